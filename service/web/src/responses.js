// @ts-check
// Pure helpers over FHIR QuestionnaireResponses and the SMART launch context (no DOM, no
// network), so they can be tested on their own (responses.test.mjs).

/** @typedef {import("./fhir.js").Json} Json */

export const INFORMATION_ORIGIN =
  "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin";
// The CRD coverage-assertion-id a response belongs to (the same tag the payer service writes).
export const ASSERTION_TAG = "urn:davinci-crd:coverage-assertion-id";

// fhirContext entries ({reference: "Type/id"}) by resource type: the first of each type.
/**
 * @param {unknown} fhirContext
 * @returns {Record<string, string>}
 */
export function findContext(fhirContext) {
  /** @type {Record<string, string>} */
  const found = {};
  for (const entry of Array.isArray(fhirContext) ? fhirContext : []) {
    const reference = entry?.reference;
    if (typeof reference !== "string" || !reference.includes("/")) continue;
    const type = reference.split("/")[0];
    if (!(type in found)) found[type] = reference;
  }
  return found;
}

// SMART's appContext is a string; ours carries JSON. Anything else means "no app context".
/**
 * @param {unknown} appContext
 * @returns {Json}
 */
export function parseAppContext(appContext) {
  if (appContext && typeof appContext === "object") return appContext;
  if (typeof appContext !== "string" || !appContext.trim()) return {};
  try {
    const parsed = JSON.parse(appContext);
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

export const COVERAGE_INFORMATION =
  "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

// What DTR needs from the CRD coverage information the EHR keeps on the order (DTR "Retrieving
// launch context"): the coverage-assertion-id, the Coverage it is about and the questionnaires.
// An order can carry several (one per Coverage, or a newer answer beside an older one); the one
// used is, in this order of preference: the one about the Coverage the launch names, else one
// naming a questionnaire (the one DTR can act on), else the one with the newest `date`.
/**
 * @param {Json | null | undefined} order
 * @param {string | null} launchCoverage
 * @returns {Partial<CoverageInformation>}
 */
export function orderCoverageInformation(order, launchCoverage) {
  const found = (order?.extension || []).filter((/** @type {Json} */ e) => e?.url === COVERAGE_INFORMATION).map(readCoverageInformation);
  if (!found.length) return {};
  const wanted = launchCoverage ? resourceKey(launchCoverage) : null;
  const newestFirst = [...found].sort((a, b) => (b.date || "").localeCompare(a.date || ""));
  return (
    (wanted && newestFirst.find((c) => c.coverage && resourceKey(c.coverage) === wanted)) ||
    newestFirst.find((c) => c.questionnaire.length) ||
    newestFirst[0]
  );
}

/**
 * @typedef {object} CoverageInformation
 * @property {string | null} coverageAssertionId
 * @property {string | null} coverage
 * @property {string[]} questionnaire
 * @property {string | null} date
 */

/**
 * @param {Json} extension
 * @returns {CoverageInformation}
 */
function readCoverageInformation(extension) {
  /** @type {Json[]} */
  const parts = extension.extension || [];
  /**
   * @param {string} url
   * @param {string} key
   */
  const first = (url, key) => parts.find((p) => p.url === url)?.[key];
  return {
    coverageAssertionId: first("coverage-assertion-id", "valueString") || null,
    coverage: first("coverage", "valueReference")?.reference || null,
    questionnaire: parts.filter((p) => p.url === "questionnaire" && p.valueCanonical).map((p) => p.valueCanonical),
    date: first("date", "valueDate") || first("date", "valueDateTime") || null,
  };
}

// "Coverage/7", ".../fhir/Coverage/7" and "Coverage/7/_history/2" name the same resource.
/** @param {string} reference */
function resourceKey(reference) {
  const parts = reference.split("/_history/")[0].split("/");
  return parts.slice(-2).join("/");
}

// The launch's context, from the SMART fhirContext, our optional appContext and the order's own
// coverage information. appContext wins when given (it is what this payer's CRD answer said at
// the launch); the order's extension is what any EHR keeps.
/**
 * @param {Record<string, string>} context
 * @param {Json} app
 * @param {Json | null | undefined} order
 * @returns {{ coverageAssertionId: string | null, coverage: string | null, questionnaire: string | null }}
 */
export function launchContext(context, app, order) {
  const coverage = context.Coverage || app.coverage || null;
  const fromOrder = orderCoverageInformation(order, coverage);
  const questionnaire = app.questionnaire || fromOrder.questionnaire || [];
  return {
    coverageAssertionId: app.coverageAssertionId || fromOrder.coverageAssertionId || null,
    coverage: coverage || fromOrder.coverage || order?.insurance?.[0]?.reference || null,
    questionnaire: (Array.isArray(questionnaire) ? questionnaire : [questionnaire])[0] || null,
  };
}

const INITIAL_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";
// `"Library".Define` (the form DTR's CQL constraints give) or `"Library"."Define"` (a define
// name that is not a plain identifier), naming a define of a package library.
const DEFINE_REFERENCE = /^"([^"]+)"\.(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*))$/;

// linkId -> {library, define} for every item whose initialExpression is a CQL define reference.
/**
 * @param {Json} questionnaire
 * @returns {Map<string, { library: string, define: string }>}
 */
export function prefillDefines(questionnaire) {
  const found = new Map();
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      const expression = (item.extension || []).find((/** @type {Json} */ e) => e.url === INITIAL_EXPRESSION)?.valueExpression;
      const named = expression?.language === "text/cql" && DEFINE_REFERENCE.exec(expression.expression || "");
      if (named) found.set(item.linkId, { library: named[1], define: named[2] ?? named[3] });
      walk(item.item);
    }
  };
  walk(questionnaire.item);
  return found;
}

// linkId -> the answer object (first answer) of every answered question.
/**
 * @param {Json | null | undefined} response
 * @returns {Map<string, Json>}
 */
export function answerValues(response) {
  const found = new Map();
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      const answer = (item.answer || [])[0];
      if (answer && valueKey(answer)) found.set(item.linkId, answer);
      walk(item.item);
      for (const nested of item.answer || []) walk(nested.item);
    }
  };
  walk(response?.item);
  return found;
}

/** @param {Json} answer */
function valueKey(answer) {
  return Object.keys(answer).find((key) => key.startsWith("value"));
}

// Two answers are the same value: same value[x] type, same code (and system) for codings, same
// number for decimals and integers (within one unit of the 8th decimal place: the CQL Decimal
// the payer pre-filled and the renderer's recomputation of it are the same value), same text
// otherwise.
/**
 * @param {Json} a
 * @param {Json} b
 */
export function sameValue(a, b) {
  const key = valueKey(a);
  if (!key || key !== valueKey(b)) return false;
  const x = a[key];
  const y = b[key];
  if (key === "valueCoding") return x?.code === y?.code && (x?.system || "") === (y?.system || "");
  if (typeof x === "number" || typeof y === "number") return Math.abs(Number(x) - Number(y)) <= 1e-8;
  return x === y;
}

// DTR information-origin on every answer: `auto` when it is still what the record gave,
// `override` when the prescriber changed a value the record gave, `manual` otherwise. An answer
// the user gave names them (dtrx-1: an author for override and manual, none for auto); `user` is
// the launch's user, a reference such as "Practitioner/7" (SMART fhirUser).
/**
 * @param {Json} response
 * @param {Map<string, Json>} prefilled
 * @param {string | null} [user]
 * @returns {Json}
 */
export function annotateOrigins(response, prefilled, user = null) {
  const author = originAuthor(user);
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      for (const answer of item.answer || []) {
        if (!valueKey(answer)) continue;
        const given = prefilled.get(item.linkId);
        const source = !given ? "manual" : sameValue(given, answer) ? "auto" : "override";
        const others = (answer.extension || []).filter((/** @type {Json} */ e) => e.url !== INFORMATION_ORIGIN);
        /** @type {Json[]} */
        const parts = [{ url: "source", valueCode: source }];
        if (author && source !== "auto") parts.push(author);
        answer.extension = [...others, { url: INFORMATION_ORIGIN, extension: parts }];
        walk(answer.item);
      }
      walk(item.item);
    }
  };
  walk(response?.item);
  return response;
}

// A copy of `response` where each item it leaves unanswered takes the answer `answers` has for
// it (linkId -> value[x]), marked as coming from the record (information-origin `auto`). What the
// response already answers is never replaced. Returns the copy and the linkIds it answered.
/**
 * @param {Json} response
 * @param {Map<string, Json>} answers
 * @returns {{ response: Json, filled: string[] }}
 */
export function withAnswers(response, answers) {
  const copy = structuredClone(response);
  /** @type {string[]} */
  const filled = [];
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      const answered = (item.answer || []).some((/** @type {Json} */ a) => valueKey(a));
      const value = answers.get(item.linkId);
      if (!answered && value && !item.item?.length) {
        item.answer = [{ ...value, extension: [{ url: INFORMATION_ORIGIN, extension: [{ url: "source", valueCode: "auto" }] }] }];
        filled.push(item.linkId);
      }
      walk(item.item);
    }
  };
  walk(copy.item);
  return { response: copy, filled };
}

// DTR 2.0.1's `author` part of information-origin: a `practitioner` reference (US Core
// Practitioner) and optional roles. A user who is not a Practitioner cannot be named there.
/** @param {unknown} user */
function originAuthor(user) {
  if (typeof user !== "string" || !user.startsWith("Practitioner/")) return null;
  return { url: "author", extension: [{ url: "practitioner", valueReference: { reference: user } }] };
}

// Required questions without an answer, in form order, among those shown (enableWhen applied by
// the renderer: `shown` is the set of linkIds currently on screen).
/**
 * @param {Json | null | undefined} questionnaire
 * @param {Map<string, Json>} answers
 * @param {Set<string>} shown
 * @returns {{ linkId: string, text: string }[]}
 */
export function missingRequired(questionnaire, answers, shown) {
  /** @type {{ linkId: string, text: string }[]} */
  const missing = [];
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      if (item.type === "group") {
        walk(item.item);
        continue;
      }
      if (item.required && shown.has(item.linkId) && !answers.has(item.linkId)) {
        missing.push({ linkId: item.linkId, text: item.text || item.linkId });
      }
      walk(item.item);
    }
  };
  walk(questionnaire?.item);
  return missing;
}
