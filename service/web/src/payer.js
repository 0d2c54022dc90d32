// @ts-check
// The payer's DTR API: a payer token traded for this launch, FHIR calls with it, and the
// questionnaire package (DTR $questionnaire-package).
import { $ } from "./dom.js";
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */
/** @typedef {{ status: number, body: any }} PayerAnswer */

const PAYER = new URL("..", window.location.href).href.replace(/\/$/, "");
const FHIR_JSON = "application/fhir+json";

// The payer's DTR API takes a payer access token (SMART Backend Services on the payer's side).
// This app holds no secret of its own: it trades the access token of its EHR launch for a
// short-lived payer token bound to this launch's patient (an RFC 8693 token exchange at the
// payer's token endpoint, which asks the EHR's token introspection whose launch the token is).
/** @returns {Promise<string>} */
async function payerToken(renew = false) {
  const session = store.get();
  if (session.payerToken && !renew && Date.now() < session.payerTokenExpires) return session.payerToken;
  const client = /** @type {import("fhirclient/lib/Client").default} */ (session.client);
  const form = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: client.state.tokenResponse?.access_token || "",
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    fhir_server: client.state.serverUrl,
    patient: client.patient.id || "",
  });
  const response = await fetch(`${PAYER}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: form,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || !answer.access_token) {
    throw new Error(`The payer did not accept this launch: ${answer.error_description || response.status}`);
  }
  // Renewed a little before it runs out, so a request never leaves with an expired token.
  store.set({
    payerToken: answer.access_token,
    payerTokenExpires: Date.now() + Math.max(answer.expires_in - 30, 5) * 1000,
  });
  return answer.access_token;
}

/**
 * POST `body` to the payer's `path`; the answer's status and JSON body (null when not JSON).
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<PayerAnswer>}
 */
export async function payer(path, body) {
  let response = await payerCall(path, body, await payerToken());
  if (response.status === 401) response = await payerCall(path, body, await payerToken(true));
  const text = await response.text();
  return { status: response.status, body: parsedJson(text) };
}

/**
 * @param {string} text
 * @returns {any} the JSON `text` holds, or null when it is empty or not JSON
 */
function parsedJson(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * @param {string} path
 * @param {unknown} body
 * @param {string} token
 */
function payerCall(path, body, token) {
  return fetch(`${PAYER}${path}`, {
    method: "POST",
    headers: { "Content-Type": FHIR_JSON, Accept: FHIR_JSON, Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

/** @param {any} body */
export function outcomeText(body) {
  /** @type {any[]} */
  const issues = body?.resourceType === "OperationOutcome" ? body.issue || [] : [];
  return issues.map((i) => i.diagnostics || i.details?.text).filter(Boolean).join("; ");
}

// $questionnaire-package with the CRD coverage-assertion-id, so the form is pre-filled from the
// payer's evaluation of the whole record (the payer stores an assertion before its CRD answer
// leaves, so it is there at once). An assertion the payer does not know (older than its retention,
// or given to another EHR) falls back to what the order and coverage alone pre-fill, and the
// response no longer names it: the payer evaluates what is submitted on its own.
/**
 * @param {{ questionnaire: string | null }} launch
 * @returns {Promise<Resource>} the package Bundle
 */
export async function questionnairePackage(launch) {
  const session = store.get();
  /** @type {Resource[]} */
  const base = [{ name: "order", resource: session.order }];
  if (session.coverage) base.push({ name: "coverage", resource: session.coverage });
  if (launch.questionnaire) base.push({ name: "questionnaire", valueCanonical: launch.questionnaire });
  if (session.assertionId) {
    const answer = await payer("/fhir/Questionnaire/$questionnaire-package", {
      resourceType: "Parameters",
      parameter: [...base, { name: "context", valueString: session.assertionId }],
    });
    if (answer.status === 200) return packageBundle(answer.body);
    if (answer.status !== 404) throw new Error(`The payer could not send the form: ${outcomeText(answer.body)}`);
  }
  const answer = await payer("/fhir/Questionnaire/$questionnaire-package", {
    resourceType: "Parameters",
    parameter: base,
  });
  if (answer.status !== 200) {
    throw new Error(`The payer could not send the form: ${outcomeText(answer.body)}`);
  }
  if (session.assertionId) {
    store.set({ assertionId: null });
    $("save-status").textContent =
      "The payer's review of this order was not found; only the order pre-fills the form.";
  }
  return packageBundle(answer.body);
}

/** @param {any} parameters */
function packageBundle(parameters) {
  /** @type {Resource | undefined} */
  const found = (parameters?.parameter || []).find((/** @type {Resource} */ p) => p.name === "PackageBundle");
  if (!found?.resource) throw new Error("The payer's answer holds no questionnaire package.");
  return found.resource;
}
