// @ts-check
// The LHC-Forms adapter: waits for the renderer, gives it the Questionnaire with the package's
// answer lists inline, renders the starting response, and reads the response the form holds.
import { $ } from "./dom.js";
import { answerValues } from "./responses.js";

/** @typedef {import("./state.js").Resource} Resource */

// LHC-Forms' web component defines window.LForms when its modules have run; its FHIR support file
// attaches to that object, so it is loaded only then (loading both up front races).
/** @returns {Promise<any>} */
export async function lformsReady() {
  const LForms = await waitFor(() => window.LForms?.Util?.addFormToPage && window.LForms, "the form renderer");
  if (!LForms.FHIR?.R4) {
    const script = document.createElement("script");
    script.src = "lforms/lformsFHIR.min.js";
    document.head.append(script);
    await waitFor(() => LForms.FHIR?.R4, "the form renderer's FHIR support");
  }
  return LForms;
}

/**
 * @template T
 * @param {() => T} found
 * @param {string} what
 * @returns {Promise<T>}
 */
function waitFor(found, what, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const look = () => {
      const value = found();
      if (value) resolve(value);
      else if (Date.now() - started > timeoutMs) reject(new Error(`${what} did not load.`));
      else setTimeout(look, 50);
    };
    look();
  });
}

// DTR packages carry the answer ValueSets beside the Questionnaire. LHC-Forms would look them up
// on a terminology server; the renderer gets them inline as answerOption instead (a copy: the
// Questionnaire itself, and the canonical the response names, stay the payer's). An open-choice
// answer the record gave that is not among the options (a diagnosis code outside the policy's
// list) joins the options, so the prescriber sees it rather than an empty field.
/**
 * @param {Resource} questionnaire
 * @param {Resource[]} resources
 * @param {Resource} response
 */
export function withAnswerOptions(questionnaire, resources, response) {
  const given = answerValues(response);
  const valueSets = resources.filter((r) => r.resourceType === "ValueSet");
  /** @param {string} canonical */
  const find = (canonical) => {
    const [url, version] = canonical.split("|");
    return valueSets.find((v) => v.url === url && (!version || v.version === version));
  };
  const copy = structuredClone(questionnaire);
  /** @param {Resource[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      const valueSet = item.answerValueSet && find(item.answerValueSet);
      if (valueSet?.expansion?.contains) {
        item.answerOption = valueSet.expansion.contains.map((/** @type {Resource} */ { system, code, display }) => ({
          valueCoding: { system, code, display },
        }));
        delete item.answerValueSet;
      }
      const coding = given.get(item.linkId)?.valueCoding;
      if (item.type === "open-choice" && coding) {
        item.answerOption = item.answerOption || [];
        const listed = item.answerOption.some(
          (/** @type {Resource} */ o) => o.valueCoding?.code === coding.code && o.valueCoding?.system === coding.system,
        );
        if (!listed) item.answerOption.push({ valueCoding: { ...coding, display: coding.display || coding.code } });
      }
      walk(item.item);
    }
  };
  walk(copy.item);
  return copy;
}

/**
 * The Questionnaire rendered in #form with `starting` as its answers.
 * @param {any} LForms
 * @param {Resource} rendered the Questionnaire as the renderer gets it (withAnswerOptions)
 * @param {Resource} starting
 */
export async function renderForm(LForms, rendered, starting) {
  const form = LForms.Util.convertFHIRQuestionnaireToLForms(rendered, "R4");
  const filled = LForms.Util.mergeFHIRDataIntoLForms("QuestionnaireResponse", starting, form, "R4");
  await LForms.Util.addFormToPage(filled, $("form"), { prepopulate: false });
}

/**
 * The answers in #form as a QuestionnaireResponse, as the renderer writes it.
 * @returns {Resource}
 */
export function formResponse() {
  return window.LForms.Util.getFormFHIRData("QuestionnaireResponse", "R4", $("form"));
}

/** Whether the renderer is there to read the form. */
export function formReadable() {
  return Boolean(window.LForms);
}
