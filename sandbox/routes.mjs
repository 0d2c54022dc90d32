// @ts-check
// The sandbox EHR's routes: /fhir (behind bearer tokens, within the token's patient compartment;
// a completed prior-authorization form goes to the payer), /auth, the clinician's pages (sign an
// order, launch the form) and the payer's notifications.

import { handleAuthorizeGet, handleAuthorizePost, handleIntrospect, handleToken } from './auth-routes.mjs';
import { capabilityStatement, openidConfiguration, smartConfiguration } from './capability.mjs';
import { compartmentRefusal, withinCompartment } from './compartment.mjs';
import { PayerError, signOrder, signs } from './crd.mjs';
import { examples, fhirCall, repo } from './fhir-store.mjs';
import { authenticate, launches, randomId } from './grants.mjs';
import { applyCors, operationOutcome, readBody, redirect, sendFhir, sendHtml, sendJson, wantsJson } from './http.mjs';
import { hookKey, jwks } from './keys.mjs';
import { errorPage, homePage, signedPage } from './pages.mjs';
import { createPriorAuthorization } from './pas.mjs';
import { BASE, FHIR_BASE, FHIR_BODY_LIMIT, LAUNCH_TTL_MS, PAYER } from './settings.mjs';
import { allowedRedirect } from './smart.mjs';

// The provider's side of prior authorization (pas.mjs): a form completed here goes to the payer.
const priorAuth = createPriorAuthorization({ base: BASE, payer: PAYER, clientId: 'sandbox-ehr', key: hookKey, fhirCall });

// Handlers

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 * @param {URL} url
 */
async function handleFhir(req, res, url) {
  const method = req.method ?? 'GET';
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
  const patientId = grant.admin ? null : /** @type {import('./types.js').Example} */ (examples.get(grant.nn)).patientId;
  if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) {
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
  const refusal = patientId && (await compartmentRefusal(method, relative, body, patientId));
  if (refusal) return sendFhir(res, 403, operationOutcome('forbidden', refusal));
  const called = await fhirCall(method, `${relative}${url.search}`, body, req.headers);
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

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 * @param {string} nn
 */
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
/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 */
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

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 * @param {string} nn
 * @param {URL} url
 */
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

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 * @param {URL} url
 */
export async function handle(req, res, url) {
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
