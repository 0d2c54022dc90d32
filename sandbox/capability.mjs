// @ts-check
// What the sandbox EHR says it can do: the FHIR CapabilityStatement (the search parameters its
// in-memory search evaluates), SMART's .well-known/smart-configuration and OpenID Connect's
// discovery document.

import { getSearchParameters } from '@medplum/core';

import { R4_SEARCH_PARAMETERS, resourceTypes, startedAt } from './fhir-store.mjs';
import { BASE, FHIR_BASE } from './settings.mjs';

// The routes of Medplum's FhirRouter that handleFhir lets through (GET, POST, PUT, DELETE; PATCH
// is refused with a 405), the same for every resource type.
const INTERACTIONS = ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'];

// A search here is evaluated by Medplum's in-memory matcher (@medplum/core, search/match.ts), which
// evaluates parameters of these types only: number and quantity parameters match nothing, composite
// and special ones fail. Declaring those would send a client to searches that cannot work.
const EVALUATED_PARAMETER_TYPES = new Set(['date', 'reference', 'string', 'token', 'uri']);
const R4_DEFINITION = /^http:\/\/hl7\.org\/fhir\/SearchParameter\//;

// Medplum builds the parameters every resource has (_id, _lastUpdated, _tag, ...) without R4's
// definition URLs; they are found here by code. The two it adds of its own (_compartment,
// _project) have no R4 definition, so they stay undeclared.
const RESOURCE_PARAMETER_DEFINITIONS = new Map(
  R4_SEARCH_PARAMETERS.entry
    .map((/** @type {import('./types.js').Json} */ entry) => entry.resource)
    .filter((/** @type {import('./types.js').Json} */ parameter) => parameter.base?.includes('Resource'))
    .map((/** @type {import('./types.js').Json} */ parameter) => [parameter.code, parameter.url]),
);

/**
 * @param {string} resourceType
 * @returns {{ name: string, definition: string | undefined, type: string, target: string[] }[]}
 */
function searchParameters(resourceType) {
  const all = getSearchParameters(/** @type {import('@medplum/fhirtypes').ResourceType} */ (resourceType));
  return Object.values(all ?? {})
    .map((parameter) => ({
      name: parameter.code,
      definition: parameter.url ?? RESOURCE_PARAMETER_DEFINITIONS.get(parameter.code),
      type: parameter.type,
      target: parameter.target ?? [],
    }))
    .filter((parameter) => R4_DEFINITION.test(parameter.definition ?? '') && EVALUATED_PARAMETER_TYPES.has(parameter.type))
    .sort((a, b) => a.name.localeCompare(b.name));
}

// _include and _revinclude follow any reference parameter (Medplum's getExtraEntries), so each
// reference parameter of a type is an include of it, and a revinclude of every type it can target.
/**
 * @param {string} resourceType
 * @param {string[]} types
 */
function searchCapability(resourceType, types) {
  const parameters = searchParameters(resourceType);
  const revIncludes = types.flatMap((source) =>
    searchParameters(source)
      .filter((parameter) => parameter.type === 'reference' && parameter.target.includes(resourceType))
      .map((parameter) => `${source}:${parameter.name}`),
  );
  return {
    searchInclude: parameters.filter((parameter) => parameter.type === 'reference').map((parameter) => `${resourceType}:${parameter.name}`),
    searchRevInclude: revIncludes.sort(),
    searchParam: parameters.map(({ name, definition, type }) => ({ name, definition, type })),
  };
}

export function capabilityStatement() {
  const types = [...resourceTypes].sort();
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    publisher: 'Sandbox EHR',
    kind: 'instance',
    software: { name: 'Sandbox EHR (Medplum FHIR router, in-memory repository)' },
    implementation: { description: 'Sandbox EHR for demos and browser tests', url: FHIR_BASE },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: true,
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: `${BASE}/auth/authorize` },
                { url: 'token', valueUri: `${BASE}/auth/token` },
              ],
            },
          ],
        },
        resource: types.map((type) => ({
          type,
          interaction: INTERACTIONS.map((code) => ({ code })),
          ...searchCapability(type, types),
        })),
      },
    ],
  };
}

export function smartConfiguration() {
  return {
    issuer: FHIR_BASE,
    jwks_uri: `${BASE}/auth/jwks`,
    authorization_endpoint: `${BASE}/auth/authorize`,
    token_endpoint: `${BASE}/auth/token`,
    introspection_endpoint: `${BASE}/auth/introspect`,
    token_endpoint_auth_methods_supported: ['none'],
    grant_types_supported: ['authorization_code'],
    response_types_supported: ['code'],
    scopes_supported: [
      'openid',
      'fhirUser',
      'launch',
      'launch/patient',
      'patient/*.rs',
      'patient/*.cruds',
      'patient/Patient.rs',
      'patient/MedicationRequest.rs',
      'patient/ServiceRequest.rs',
      'patient/DeviceRequest.rs',
      'patient/Coverage.rs',
      'patient/Claim.rs',
      'patient/ClaimResponse.rs',
      'patient/QuestionnaireResponse.cruds',
    ],
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      'client-public',
      'context-ehr-patient',
      'context-standalone-patient',
      'permission-patient',
      'permission-v2',
      'sso-openid-connect',
    ],
    code_challenge_methods_supported: ['S256'],
  };
}

export function openidConfiguration() {
  return {
    issuer: FHIR_BASE,
    jwks_uri: `${BASE}/auth/jwks`,
    authorization_endpoint: `${BASE}/auth/authorize`,
    token_endpoint: `${BASE}/auth/token`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'fhirUser'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'fhirUser'],
  };
}
