// @ts-check
// The SMART authorization server's routes: authorize (EHR launch, or a patient chosen for a
// standalone launch), token, and token introspection.

import { examples } from './fhir-store.mjs';
import { authenticate, codes, grantOf, launches, pending, randomId, sameSecret, sha256 } from './grants.mjs';
import { oauthError, readForm, redirect, sendHtml, sendJson } from './http.mjs';
import { errorPage, esc, page } from './pages.mjs';
import { FHIR_BASE, PAYER, PENDING_TTL_MS, TOKEN_TTL_S, trimSlash } from './settings.mjs';
import { allowedRedirect, issueCode, tokenResponse } from './smart.mjs';

// this server (the introspected token itself will do); the answer names the launch's patient.
/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 */
export async function handleIntrospect(req, res) {
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
  /** @type {import('./types.js').Json} */
  const answer = {
    active: true,
    scope: grant.scope,
    client_id: grant.clientId,
    exp: Math.floor(grant.expires / 1000),
    patient: /** @type {import('./types.js').Example} */ (examples.get(grant.nn)).patientId,
  };
  if (grant.fhirUser) answer.fhirUser = `${FHIR_BASE}/${grant.fhirUser}`;
  return sendJson(res, 200, answer);
}

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 * @param {URL} url
 */
export async function handleAuthorizeGet(req, res, url) {
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
    return redirect(res, issueCode(/** @type {import('./types.js').CheckedRequest} */ (request), launch.nn, launch.resume));
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

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 */
export async function handleAuthorizePost(req, res) {
  const form = await readForm(req);
  const id = form.get('pending') ?? '';
  const entry = pending.get(id);
  pending.delete(id);
  const example = examples.get(form.get('example') ?? '');
  if (!entry || entry.expires < Date.now()) {
    return sendHtml(res, 400, errorPage('Authorization refused', 'This authorization request is unknown or has expired. Start again from the app.'));
  }
  if (!example) return sendHtml(res, 400, errorPage('Authorization refused', 'Unknown patient.'));
  return redirect(res, issueCode(/** @type {import('./types.js').CheckedRequest} */ (entry.request), example.nn, null), 303);
}

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 */
export async function handleToken(req, res) {
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
  const example = /** @type {import('./types.js').Example} */ (examples.get(grant.nn));
  return sendJson(res, 200, await tokenResponse(grant, example));
}
