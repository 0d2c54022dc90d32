// The FHIR JSON the app reads and writes: resources, and the elements inside them, are JSON
// objects; each module checks what it reads before relying on it.
export type Json = Record<string, any>;
export type Resource = Json;
