// Pure helpers over FHIR QuestionnaireResponses and the SMART launch context (no DOM, no
// network), so they can be tested on their own (responses.test.mjs).

export const INFORMATION_ORIGIN =
  "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin";
// The CRD coverage-assertion-id a response belongs to (the same tag the payer service writes).
export const ASSERTION_TAG = "urn:davinci-crd:coverage-assertion-id";

// fhirContext entries ({reference: "Type/id"}) by resource type: the first of each type.
export function findContext(fhirContext) {
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

// linkId -> the answer object (first answer) of every answered question.
export function answerValues(response) {
  const found = new Map();
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

function valueKey(answer) {
  return Object.keys(answer).find((key) => key.startsWith("value"));
}

// Two answers are the same value: same value[x] type, same code (and system) for codings, same
// number for decimals and integers, same text otherwise.
export function sameValue(a, b) {
  const key = valueKey(a);
  if (!key || key !== valueKey(b)) return false;
  const x = a[key];
  const y = b[key];
  if (key === "valueCoding") return x?.code === y?.code && (x?.system || "") === (y?.system || "");
  if (typeof x === "number" || typeof y === "number") return Number(x) === Number(y);
  return x === y;
}

// DTR information-origin on every answer: `auto` when it is still what the record gave,
// `override` when the prescriber changed a value the record gave, `manual` otherwise.
export function annotateOrigins(response, prefilled) {
  const walk = (items) => {
    for (const item of items || []) {
      for (const answer of item.answer || []) {
        if (!valueKey(answer)) continue;
        const given = prefilled.get(item.linkId);
        const source = !given ? "manual" : sameValue(given, answer) ? "auto" : "override";
        const others = (answer.extension || []).filter((e) => e.url !== INFORMATION_ORIGIN);
        answer.extension = [
          ...others,
          { url: INFORMATION_ORIGIN, extension: [{ url: "source", valueCode: source }] },
        ];
        walk(answer.item);
      }
      walk(item.item);
    }
  };
  walk(response?.item);
  return response;
}

// Required questions without an answer, in form order, among those shown (enableWhen applied by
// the renderer: `shown` is the set of linkIds currently on screen).
export function missingRequired(questionnaire, answers, shown) {
  const missing = [];
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
