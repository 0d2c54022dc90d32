// @ts-check
// The form's state, in the one store every module reads and changes: the launch (EHR client,
// patient, order, coverage), what the payer sent (questionnaire, displays), this form's draft
// and identity, and where the live evaluation and the alert stand.
import { createStore } from "./store.js";

/** @typedef {import("./fhir.js").Resource} Resource */

/**
 * @typedef {object} Alert
 * @property {string} text what went wrong and what to do next
 * @property {string} source what raised it ("evaluation", "action", ...): it clears only that
 */

/**
 * @typedef {object} AppState
 * @property {import("fhirclient/lib/Client").default | null} client
 * @property {Resource | null} patient
 * @property {Resource | null} order
 * @property {Resource | null} coverage
 * @property {string | null} assertionId
 * @property {string | null} payerToken
 * @property {number} payerTokenExpires
 * @property {Resource | null} questionnaire
 * @property {Set<string> | null} questionnaireLinkIds
 * @property {Map<string, string> | null} displays
 * @property {string | null} canonical
 * @property {Resource[]} intendedUse
 * @property {Map<string, Resource>} prefilled
 * @property {Resource | null} draft the EHR's copy of this form while in progress
 * @property {Resource | null} identifier stable per form: makes the payer submission idempotent
 * @property {string | null} evaluatedKey the answers whose evaluation is on screen
 * @property {boolean} evaluating
 * @property {boolean} stale a change is waiting to be evaluated, or its evaluation failed
 * @property {boolean} submitted
 * @property {string | null} evaluationDate the payer's evaluation date ($evaluate): ages count to it
 * @property {Alert | null} alert
 */

/** @type {AppState} */
const initial = {
  client: null,
  patient: null,
  order: null,
  coverage: null,
  assertionId: null,
  payerToken: null,
  payerTokenExpires: 0,
  questionnaire: null,
  questionnaireLinkIds: null,
  displays: null,
  canonical: null,
  intendedUse: [],
  prefilled: new Map(),
  draft: null,
  identifier: null,
  evaluatedKey: null,
  evaluating: false,
  stale: true,
  submitted: false,
  evaluationDate: null,
  alert: null,
};

export const store = createStore(initial);
