// @ts-check
// The prior-authorization request after Submit: the EHR submits the completed form to the payer
// (Da Vinci PAS) and keeps the Claim and the payer's ClaimResponse in the record; the app reads
// them from there until the payer has decided (the EHR replaces the ClaimResponse when the
// payer's notification arrives). A decision may take days: the looks back off from 2 s to a
// minute, pause while the tab is hidden, and stop at a final decision.
import { problem, solved } from "./alert.js";
import { $, element, listOf } from "./dom.js";
import { currentClaimResponse, requestClaim } from "./ehr.js";
import { REQUEST_STATES, payerAsks, reviewCode, showNextSteps } from "./request-status.js";
import { backoff } from "./schedule.js";
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */

const FIRST_LOOK_MS = 2000;
const LONGEST_WAIT_MS = 60000;
const NOT_READ =
  "The EHR did not answer when asked for the payer's decision. The form is submitted and nothing is lost; this page asks again in a moment.";

/** @param {string} responseId the completed form, as the EHR keeps it */
export function followRequest(responseId) {
  const waits = backoff(FIRST_LOOK_MS, LONGEST_WAIT_MS);
  /** @type {string | null} */
  let claimId = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let looking = false;
  let final = false;

  const look = async () => {
    timer = null;
    looking = true;
    try {
      claimId = claimId || (await requestClaim(responseId));
      const current = claimId ? await currentClaimResponse(claimId) : null;
      if (current) final = showRequest(current);
      solved("request");
    } catch (error) {
      console.warn("prior-authorization status not read:", error instanceof Error ? error.message : error);
      problem(NOT_READ, "request");
    } finally {
      looking = false;
    }
    if (final) document.removeEventListener("visibilitychange", visibility);
    else if (!document.hidden) timer = setTimeout(look, waits.next());
  };
  // Hidden: no looks. Shown again: a look at once, then the backoff goes on from where it was.
  const visibility = () => {
    if (document.hidden) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    } else if (timer === null && !looking && !final) {
      void look();
    }
  };
  document.addEventListener("visibilitychange", visibility);
  void look();
}

// A corrected request after a decision: the same form again, as a new request.
function correctedRequest() {
  store.set({
    identifier: { system: "urn:ietf:rfc:3986", value: `urn:uuid:${crypto.randomUUID()}` },
    draft: null,
    submitted: false,
  });
  $("done").hidden = true;
  $("workspace").hidden = false;
  document.body.dataset.state = "ready";
}

// The payer's questions answered in this form: it was sent as completed; the EHR sends it again,
// changed, as an update of the same request (same form, same identifier).
function answerMore() {
  store.set({ submitted: false });
  $("done").hidden = true;
  $("workspace").hidden = false;
  document.body.dataset.state = "ready";
}

// Shows the request's state; true once it is final (approved, denied, cancelled).
/**
 * @param {Resource} claimResponse
 * @param {() => void} [onNewRequest] what "Prepare a corrected request" does
 * @param {() => void} [onAnswer] what "Answer the payer's questions" does
 */
export function showRequest(claimResponse, onNewRequest = correctedRequest, onAnswer = answerMore) {
  const { code, reason } = reviewCode(claimResponse);
  const asked = payerAsks(claimResponse);
  const decided = (code && REQUEST_STATES[code]) || "pended";
  const state = decided === "pended" && asked.length ? "more-info" : decided;
  const box = $("pa");
  box.dataset.status = state;
  box.innerHTML = "";
  box.append(element("h3", "Prior-authorization request"));
  /** @type {string[]} */
  const notes = (claimResponse.processNote || []).map((/** @type {Resource} */ n) => n.text).filter(Boolean);
  if (state === "approved") {
    const period = claimResponse.preAuthPeriod;
    const ref = element("strong", claimResponse.preAuthRef || "");
    ref.id = "pa-ref";
    const line = element("p", "Approved: authorization ");
    line.append(ref, document.createTextNode(period ? `, valid ${period.start} to ${period.end}.` : "."));
    box.append(line);
  } else if (state === "denied") {
    const line = element("p", `Denied: ${reason || claimResponse.disposition || "see the payer's note"}.`);
    line.id = "pa-reason";
    box.append(line);
  } else if (state === "more-info") {
    box.append(element("p", "Pended: the payer's reviewer asks for more information:"));
    const list = listOf(asked);
    list.id = "pa-asks";
    box.append(list);
  } else if (state === "cancelled") {
    box.append(element("p", "Cancelled."));
  } else {
    box.append(element("p", "Pended for the payer's clinical review. This page updates when the payer decides."));
  }
  for (const note of notes) box.append(element("p", note, "note"));
  showNextSteps(box, state, state === "more-info" ? onAnswer : onNewRequest);
  return state !== "pended" && state !== "more-info";
}
