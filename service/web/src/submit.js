// @ts-check
// Saving a draft in the EHR and submitting the completed form: to the payer (DTR), to the EHR
// (which sends the prior-authorization request), and the payer's evaluation of it shown.
import { problem, solved } from "./alert.js";
import { OUTCOME_WORDS, parameters } from "./criteria.js";
import { currentResponse } from "./current-response.js";
import { $, element, listOf, number, when } from "./dom.js";
import { saveToEhr } from "./ehr.js";
import { outcomeText, payer } from "./payer.js";
import { followRequest } from "./request.js";
import { store } from "./state.js";
import { showTodo } from "./todo.js";

/** @typedef {import("./state.js").Resource} Resource */

// The buttons wait while `action` runs; what it throws is said in the alert region.
/** @param {() => Promise<void>} action */
export async function guarded(action) {
  for (const button of [$("save"), $("submit")]) /** @type {HTMLButtonElement} */ (button).disabled = true;
  solved();
  try {
    await action();
  } catch (error) {
    problem(error instanceof Error ? error.message : String(error));
  } finally {
    for (const button of [$("save"), $("submit")]) /** @type {HTMLButtonElement} */ (button).disabled = false;
  }
}

export async function saveDraft() {
  const draft = await saveToEhr(currentResponse("in-progress"));
  store.set({ draft });
  $("save-status").textContent = `Draft saved in the patient's record at ${when(draft.meta?.lastUpdated)}.`;
  $("save-status").dataset.saved = draft.id;
}

export async function submit() {
  const qr = currentResponse("completed");
  showTodo(qr);
  const missing = Number($("todo").dataset.missing || "0");
  if (missing) {
    $("todo").scrollIntoView({ block: "start" });
    problem(`${missing} question${missing > 1 ? "s are" : " is"} not answered yet: answer those listed at the top, then press Submit to payer again.`);
    return;
  }
  const sent = await payer("/fhir/QuestionnaireResponse", qr);
  if (sent.status !== 201 && sent.status !== 200) {
    problem(`The payer did not accept the form: ${refusal(sent)}`);
    return;
  }
  const saved = await saveToEhr(qr);
  store.set({ draft: saved });
  const evaluated = await payer("/fhir/QuestionnaireResponse/$evaluate", qr);
  if (evaluated.status !== 200) {
    problem(`The payer has the form, but could not say how it meets the policy: ${refusal(evaluated)}`);
  }
  showDone(parameters(evaluated.body), saved, sent.body);
}

// What the payer said, in words, and what to do next.
/** @param {import("./payer.js").PayerAnswer} answer */
function refusal(answer) {
  const said = (outcomeText(answer.body) || `it answered with status ${answer.status}`).replace(/[.\s]+$/, "");
  if (answer.status >= 500 || answer.status === 429) {
    return `${said}. The payer is busy or unavailable: wait a minute and press Submit to payer again; your answers stay in this form.`;
  }
  if (answer.status === 401 || answer.status === 403) {
    return `${said}. Press Save draft to keep your answers, then open the form again from the order.`;
  }
  return `${said}. Correct what it names and press Submit to payer again; if there is nothing to correct, press Save draft and call the payer's prior-authorization line.`;
}

/** @type {Record<string, string>} */
const NEXT_STEPS = {
  "criteria-met":
    "The answers meet the policy's criteria. The payer's prior-authorization review now has them; nothing needs faxing. Keep the order as signed; the payer's decision appears below when it is made.",
  "criteria-not-met":
    "The answers do not meet the policy's criteria. The request still goes to the payer's clinical review, where it may be denied: a letter of medical necessity or a peer-to-peer review can support it.",
  incomplete:
    "Some criteria could not be decided from the answers. The payer's clinical reviewer may ask for more information.",
};

/**
 * @param {import("./criteria.js").Evaluation} found
 * @param {Resource} ehrCopy
 * @param {Resource} payerCopy
 */
function showDone(found, ehrCopy, payerCopy) {
  const [words, tone] = OUTCOME_WORDS[found.outcome] || ["Its evaluation is not known yet", "pending"];
  store.set({ submitted: true });
  $("workspace").hidden = true;
  const done = $("done");
  done.hidden = false;
  done.innerHTML = "";
  const heading = element("h2", `Submitted. ${words}.`);
  done.dataset.outcome = found.outcome;
  done.className = `done ${tone}`;
  done.append(heading, element("p", NEXT_STEPS[found.outcome] || ""));
  const unmet = found.criteria.filter((c) => c.status === "not-met");
  if (unmet.length) {
    done.append(listOf(unmet.map((c) => `${c.label}: not met`)));
  }
  const lead = found.limits.find((l) => l.kind === "quantity" && l.value);
  if (lead) done.append(element("p", `Covered ${lead.label} for this patient: up to ${number(lead.value.value)} ${lead.unit}.`));
  const refs = element("p", `Saved in the patient's record as QuestionnaireResponse/${ehrCopy.id}; payer reference ${payerCopy.id}.`, "muted");
  refs.id = "references";
  refs.dataset.ehr = ehrCopy.id;
  refs.dataset.payer = payerCopy.id;
  done.append(refs);
  const request = element("section", "");
  request.id = "pa";
  request.className = "pa";
  request.dataset.status = "sending";
  request.append(element("h3", "Prior-authorization request"), element("p", "The EHR is sending the request to the payer…"));
  done.append(request);
  document.body.dataset.state = "submitted";
  followRequest(ehrCopy.id);
}
