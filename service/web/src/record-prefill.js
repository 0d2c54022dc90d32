// @ts-check
// Pre-fill on the client (DTR spec-59: the package's CQL is the basis for pre-population): what
// the payer's pre-filled response leaves open is answered by running the package's CQL here, over
// the patient's data read from the EHR with this launch's token. The engine is loaded only when
// something is left to answer.
import { answerValues, prefillDefines, withAnswers } from "./responses.js";

/** @typedef {import("./fhir.js").Json} Json */

const PAGE_SIZE = 200;

// The resource types the package's CQL retrieves, as its Libraries declare them
// (Library.dataRequirement, DTR: what a client must query), searched by patient: searches every
// FHIR server supports. The Patient is read from the launch; Medications follow the orders'
// references.
/**
 * @param {Json[]} resources
 * @returns {string[]}
 */
export function searchedTypes(resources) {
  /** @type {string[]} */
  const types = resources
    .filter((r) => r.resourceType === "Library")
    .flatMap((library) => (library.dataRequirement || []).map((/** @type {Json} */ d) => d.type))
    .filter((type) => type && !["Patient", "Medication"].includes(type));
  return [...new Set(types)].sort();
}

// `prefilled` with the items it leaves unanswered answered from the record where the CQL can.
// Rejects when the EHR refuses a search or the engine fails: the caller keeps `prefilled`.
/**
 * @param {{ client: import("fhirclient/lib/Client").default, patient: Json, order: Json, resources: Json[], prefilled: Json, today: string }} what
 * @returns {Promise<{ response: Json, filled: string[] }>}
 */
export async function recordPrefill({ client, patient, order, resources, prefilled, today }) {
  const questionnaire = resources.find((r) => r.resourceType === "Questionnaire");
  if (!questionnaire) return { response: prefilled, filled: [] };
  const given = answerValues(prefilled);
  const open = [...prefillDefines(questionnaire).keys()].filter((linkId) => !given.has(linkId));
  if (!open.length) return { response: prefilled, filled: [] };
  // The record is searched while the engine loads and parses its FHIR model (the searches wait on
  // the network, the parse on the processor): each hides the other's time.
  const [patientBundle, { packagePrefill, source }] = await Promise.all([
    patientData(client, patient, order, searchedTypes(resources)),
    import("./cql.js").then((engine) => ({ ...engine, source: engine.fhirSource() })),
  ]);
  const answers = await packagePrefill({ resources, patientBundle, orderId: order.id, today, source });
  return withAnswers(prefilled, new Map([...answers].filter(([linkId]) => open.includes(linkId))));
}

// The patient's record as one collection Bundle: the Patient, the order, every resource of the
// searched types for this patient (all pages), and the Medications the orders reference.
/**
 * @param {import("fhirclient/lib/Client").default} client
 * @param {Json} patient
 * @param {Json} order
 * @param {string[]} searched
 * @returns {Promise<Json>}
 */
export async function patientData(client, patient, order, searched) {
  /** @type {Map<string, Json>} */
  const found = new Map();
  const keep = (/** @type {Json | undefined} */ resource) => resource?.id && found.set(`${resource.resourceType}/${resource.id}`, resource);
  keep(patient);
  keep(order);
  const searches = searched.map((type) =>
    client.request(`${type}?patient=Patient/${patient.id}&_count=${PAGE_SIZE}`, { pageLimit: 0, flat: true }),
  );
  for (const resources of await Promise.all(searches)) {
    for (const resource of /** @type {Json[]} */ (resources || [])) keep(resource);
  }
  const medications = [...found.values()]
    .map((r) => r.medicationReference?.reference)
    .filter((reference) => reference?.startsWith("Medication/") && !found.has(reference));
  for (const medication of await Promise.all([...new Set(medications)].map((ref) => client.request(ref)))) {
    keep(medication);
  }
  return { resourceType: "Bundle", type: "collection", entry: [...found.values()].map((resource) => ({ resource })) };
}

// Today in the prescriber's time zone, as a CQL Date ("YYYY-MM-DD").
export function localToday(now = new Date()) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
