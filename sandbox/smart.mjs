// @ts-check
// SMART App Launch 2.0 authorization: which redirect URIs may receive a code, codes issued for a
// launch or a chosen patient, and the token response with the launch context (fhirContext, our
// appContext, an id_token for openid).

import { signs } from './crd.mjs';
import { codes, randomId, tokens } from './grants.mjs';
import { signIdToken } from './keys.mjs';
import { APP_REDIRECTS, CODE_TTL_MS, FHIR_BASE, PAYER, TOKEN_TTL_S } from './settings.mjs';

/**
 * @param {unknown} redirectUri
 * @returns {redirectUri is string}
 */
export function allowedRedirect(redirectUri) {
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

/**
 * @param {import('./types.js').CheckedRequest} request
 * @param {string} nn
 * @param {string | null} resume
 */
export function issueCode(request, nn, resume) {
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

/**
 * @param {import('./types.js').Example} example
 */
function appContextFor(example) {
  const context = {};
  const signed = signs.get(example.nn);
  if (signed?.assertionId) context.coverageAssertionId = signed.assertionId;
  if (signed?.questionnaires?.length) context.questionnaire = signed.questionnaires;
  if (example.orderId) context.order = `${example.orderType}/${example.orderId}`;
  if (example.coverageId) context.coverage = `Coverage/${example.coverageId}`;
  return context;
}

/**
 * @param {import('./types.js').CodeGrant} grant
 * @param {import('./types.js').Example} example
 */
export async function tokenResponse(grant, example) {
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
  /** @type {import('./types.js').Json} */
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
