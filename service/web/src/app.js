// @ts-check
// The prescriber's prior-authorization form (DTR SMART app). After the SMART launch it reads the
// order, coverage and patient from the EHR, asks this payer service for the questionnaire package
// (Questionnaire + a response pre-filled from the record), renders it with LHC-Forms, shows the
// policy's criteria live as answers change ($evaluate), saves drafts to the EHR and submits the
// completed response to the EHR and to the payer. This module starts it; each job has its own.
import { repairForm } from "./a11y.js";
import { problem, showAlerts } from "./alert.js";
import { confirmSubmit } from "./confirm.js";
import { INTENDED_USE } from "./current-response.js";
import { $, when } from "./dom.js";
import { ehrClient, savedDraft } from "./ehr.js";
import { readLaunch } from "./ehr-launch.js";
import { withFhirPathExpressions } from "./expressions.js";
import { linkIds } from "./form-rows.js";
import { showHeader, showTitle } from "./header.js";
import { lformsReady, renderForm, withAnswerOptions } from "./lforms.js";
import { refresh, watchForm } from "./live.js";
import { showRequest } from "./request.js";
import { openOnRequest, requestForm, submittedRequest } from "./request-status.js";
import { questionnairePackage } from "./payer.js";
import { localToday, recordPrefill } from "./record-prefill.js";
import { answerValues } from "./responses.js";
import { store } from "./state.js";
import { guarded, saveDraft, submit } from "./submit.js";

/** @typedef {import("./state.js").Resource} Resource */

// The record pre-fill may not hold the form back for longer than this.
const RECORD_PREFILL_TIMEOUT_MS = 20000;

showAlerts();
main().catch((error) => {
  const said = (error instanceof Error ? error.message : String(error)).replace(/[.\s]+$/, "");
  problem(`${said}. Open the form again from the order; if this happens again, call the payer's prior-authorization line.`);
});

async function main() {
  document.body.dataset.state = "loading";
  const { context, launch } = await readLaunch();
  showHeader();
  const answering = await openOnExistingRequest();

  const [bundle, LForms] = await Promise.all([questionnairePackage(launch), lformsReady()]);
  /** @type {Resource[]} */
  const entries = (bundle.entry || []).map((/** @type {Resource} */ e) => e.resource);
  const questionnaire = entries.find((r) => r.resourceType === "Questionnaire");
  const prefilled = entries.filter((r) => r.resourceType === "QuestionnaireResponse").pop();
  if (!questionnaire || !prefilled) throw new Error("The payer sent no questionnaire.");
  showTitle(questionnaire);
  store.set({
    questionnaire,
    questionnaireLinkIds: linkIds(questionnaire.item),
    displays: new Map(
      entries
        .filter((r) => r.resourceType === "ValueSet")
        .flatMap((v) => (v.expansion?.contains || []).map((/** @type {Resource} */ c) => [c.code, c.display])),
    ),
    canonical: prefilled.questionnaire,
    // What the documentation is for (DTR intendedUse), as the payer said it in the package.
    intendedUse: (prefilled.extension || []).filter((/** @type {Resource} */ e) => e.url === INTENDED_USE),
    prefilled: new Map(answerValues(prefilled)),
  });
  showHeader(); // the order's name may come from the package's ValueSets

  // Answering the payer's ask: the request's own form, changed and sent again as an update.
  const asked = answering && requestForm(answering.claim);
  const draft = asked ? await ehrClient().request(asked) : await savedDraft(context.QuestionnaireResponse);
  store.set({
    draft,
    identifier: draft?.identifier || { system: "urn:ietf:rfc:3986", value: `urn:uuid:${crypto.randomUUID()}` },
  });
  const starting = draft || (await withRecordAnswers(entries, prefilled));

  $("workspace").hidden = false;
  // LHC-Forms evaluates FHIRPath only: the CQL expressions' FHIRPath alternatives (ADR 0012).
  await renderForm(LForms, withAnswerOptions(withFhirPathExpressions(questionnaire), entries, starting), starting);
  repairForm($("form"));
  if (draft) $("save-status").textContent = `Resumed the draft saved ${when(draft.authored)}.`;

  $("save").addEventListener("click", () => guarded(saveDraft));
  $("submit").addEventListener("click", async () => (await confirmSubmit()) && guarded(submit));
  watchForm();
  await refresh();
  document.body.dataset.state = "ready";
}

// An order that already has a prior-authorization request opens on it (its state, due date and
// what to do next), not on a fresh form; the form opens when the prescriber asks for a corrected
// or new request. Not being able to read the EHR's Claims leaves the form as it would be.
/** @returns {Promise<import("./request-status.js").SubmittedRequest | undefined>} */
async function openOnExistingRequest() {
  const { patient, order } = store.get();
  if (!patient || !order) return undefined;
  const requestOf = () => submittedRequest(patient.id, `${order.resourceType}/${order.id}`);
  const existing = await requestOf().catch((error) => console.warn("the order's requests were not read:", error));
  return existing ? openOnRequest($("done"), existing, showRequest, requestOf) : undefined;
}

// What the payer's pre-fill left open, answered by the package's CQL over the EHR's record (a
// fresh form only: a resumed draft holds what the prescriber chose, empty answers included).
// Failing to read the record or run the CQL leaves those questions open, with a quiet notice.
/**
 * @param {Resource[]} resources
 * @param {Resource} prefilled
 */
async function withRecordAnswers(resources, prefilled) {
  const notice = $("record-notice");
  const session = store.get();
  try {
    const { client, patient, order } = session;
    if (!client || !patient || !order) throw new Error("the EHR launch is not complete");
    const { response, filled } = await withTimeout(
      recordPrefill({
        client,
        patient,
        order,
        resources,
        prefilled,
        today: localToday(),
      }),
      RECORD_PREFILL_TIMEOUT_MS,
    );
    const answers = new Map(session.prefilled);
    for (const [linkId, answer] of answerValues(response)) {
      if (filled.includes(linkId)) answers.set(linkId, answer);
    }
    store.set({ prefilled: answers });
    notice.dataset.filled = filled.join(" ");
    if (filled.length) notice.textContent = `${filled.length} more answer${filled.length > 1 ? "s" : ""} found in the record.`;
    return response;
  } catch (error) {
    notice.dataset.failed = "true";
    notice.textContent = "The record could not be searched for the remaining answers: please answer them below.";
    console.warn("record pre-fill failed:", error);
    return prefilled;
  }
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
