// @ts-check
// The live criteria: the payer evaluates the answers on screen ($evaluate) when they change.
// Nothing runs while nothing changes: an input, change, click or key in the page schedules one
// look ~300 ms after the last of a burst (LHC-Forms' answer lists and date pickers change the
// form without a DOM event on it, but never without one in the page). The results region says
// whether what it shows is of the answers on screen (data-evaluated, aria-busy).
import { problem, solved } from "./alert.js";
import { showEvaluation, showEvaluationProblem } from "./criteria.js";
import { currentResponse } from "./current-response.js";
import { $ } from "./dom.js";
import { markOrigins } from "./form-rows.js";
import { formReadable } from "./lforms.js";
import { outcomeText, payer } from "./payer.js";
import { debounced } from "./schedule.js";
import { store } from "./state.js";
import { showTodo } from "./todo.js";

const SETTLE_MS = 300;
const CHANGE_EVENTS = ["input", "change", "click", "keyup"];
const NOT_ANSWERED =
  "The payer did not answer, so the criteria shown may be out of date. Your answers are kept in this form: try again by changing an answer, or in a moment with Submit to payer.";

const later = debounced(() => void refresh(), SETTLE_MS);

function changed() {
  if (store.get().submitted) return;
  store.set({ stale: true });
  later.call();
}

// Re-evaluates when the page changes, until the form is submitted.
export function watchForm() {
  startWatching();
  store.subscribe((state, keys) => {
    if (keys.has("stale")) showFreshness(state.stale);
    // Submitted: nothing to evaluate; a corrected request after a decision opens the form again.
    if (keys.has("submitted")) (state.submitted ? stopWatching : startWatching)();
  });
  showFreshness(store.get().stale);
}

function startWatching() {
  for (const type of CHANGE_EVENTS) document.addEventListener(type, changed, true);
}

function stopWatching() {
  for (const type of CHANGE_EVENTS) document.removeEventListener(type, changed, true);
  later.cancel();
}

/** @param {boolean} stale */
function showFreshness(stale) {
  const results = $("results");
  results.dataset.evaluated = String(!stale);
  results.setAttribute("aria-busy", String(stale));
}

// Evaluates the answers on screen, and again while they change under it; a failure is said in
// the alert region and leaves the results marked out of date (the next change tries again).
export async function refresh() {
  const session = store.get();
  if (!formReadable() || !session.canonical || session.evaluating || session.submitted) return;
  store.set({ evaluating: true });
  try {
    while (await evaluateOnce()) {
      // the answers changed while the payer evaluated: evaluate them too
    }
    // A change seen meanwhile has its own look coming: until it has run, nothing is current.
    if (!later.pending()) store.set({ stale: false });
    solved("evaluation");
  } catch (error) {
    console.warn("evaluation failed:", error instanceof Error ? error.message : error);
    problem(NOT_ANSWERED, "evaluation");
  } finally {
    store.set({ evaluating: false });
  }
}

// One look: false when the evaluation on screen is already of the answers on screen.
async function evaluateOnce() {
  const qr = currentResponse("in-progress");
  markOrigins(qr);
  showTodo(qr);
  const key = responseKey(qr);
  if (key === store.get().evaluatedKey) return false;
  const answer = await payer("/fhir/QuestionnaireResponse/$evaluate", qr);
  if (answer.status >= 500 || answer.status === 429) throw new Error(`$evaluate answered ${answer.status}`);
  store.set({ evaluatedKey: key });
  if (answer.status === 200) showEvaluation(answer.body);
  else showEvaluationProblem(outcomeText(answer.body));
  return true;
}

/** @param {import("./state.js").Resource} qr */
function responseKey(qr) {
  return JSON.stringify(qr.item || []);
}
