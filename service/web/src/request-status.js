// @ts-check
// The prior-authorization request an order already has (Da Vinci PAS), as the EHR keeps it: the
// Claim whose item names the order as its requestedService, and the payer's newest ClaimResponse
// for it. A relaunched order opens on that request, not on a fresh form (a second request for
// one order is refused by the payer while the first is open); and each state says what the
// prescriber can do next.

import { element, listOf } from "./dom.js";
import { currentClaimResponse, ehrClient } from "./ehr.js";
import { backoff } from "./schedule.js";

/** @typedef {import("./state.js").Resource} Resource */
/** @typedef {{ claim: Resource, claimResponse: Resource }} SubmittedRequest */

const REQUESTED_SERVICE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-requestedService";
const REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction";
const REVIEW_ACTION_CODE = `${REVIEW_ACTION}Code`;
const X12_306 = "https://codesystem.x12.org/005010/306";
/** @type {Record<string, string>} */
export const REQUEST_STATES = { A1: "approved", A3: "denied", A4: "pended", C: "cancelled" };

// The X12 306 review action of a ClaimResponse and the reason given with it.
/**
 * @param {Resource} claimResponse
 * @returns {{ code: string | null, reason?: string }}
 */
export function reviewCode(claimResponse) {
  for (const item of claimResponse.item || []) {
    for (const adjudication of item.adjudication || []) {
      const action = (adjudication.extension || []).find((/** @type {Resource} */ e) => e.url === REVIEW_ACTION);
      const code = (action?.extension || []).find((/** @type {Resource} */ e) => e.url === REVIEW_ACTION_CODE);
      const coding = (code?.valueCodeableConcept?.coding || []).find((/** @type {Resource} */ c) => c.system === X12_306);
      if (coding) return { code: coding.code, reason: adjudication.reason?.text };
    }
  }
  return { code: null };
}

// What the payer asks for (PAS 2.0.1: a CommunicationRequest contained in the ClaimResponse and
// named by its communicationRequest), each line of the ask; empty when it asks for nothing.
/**
 * @param {Resource} claimResponse
 * @returns {string[]}
 */
export function payerAsks(claimResponse) {
  const named = new Set(
    (claimResponse.communicationRequest || []).map((/** @type {Resource} */ r) => String(r.reference || "").replace(/^#/, "")),
  );
  return (claimResponse.contained || [])
    .filter((/** @type {Resource} */ r) => r.resourceType === "CommunicationRequest" && named.has(r.id))
    .flatMap((/** @type {Resource} */ r) => (r.payload || []).map((/** @type {Resource} */ p) => p.contentString))
    .filter(Boolean);
}

// The completed form a request carries (its supportingInfo), as the EHR keeps it: answering the
// payer's ask means changing that form, which the EHR then sends as an update of the request.
/** @param {Resource} claim */
export function requestForm(claim) {
  const info = (claim.supportingInfo || []).find((/** @type {Resource} */ i) =>
    String(i.valueReference?.reference || "").startsWith("QuestionnaireResponse/"),
  );
  return info ? String(info.valueReference.reference) : null;
}

// {claim, claimResponse} of the newest request the EHR sent for `orderRef` ("Type/id"), or null.
/**
 * @param {string} patientId
 * @param {string} orderRef
 * @returns {Promise<SubmittedRequest | null>}
 */
export async function submittedRequest(patientId, orderRef) {
  /** @type {Resource[]} */
  const claims = await ehrClient().request(`Claim?patient=Patient/${patientId}`, { flat: true });
  const forOrder = (claims || []).filter((claim) =>
    (claim.item || []).some((/** @type {Resource} */ item) =>
      (item.extension || []).some((/** @type {Resource} */ e) => e.url === REQUESTED_SERVICE && e.valueReference?.reference === orderRef),
    ),
  );
  /** @type {SubmittedRequest | null} */
  let newest = null;
  for (const claim of forOrder) {
    const answer = await currentClaimResponse(claim.id);
    if (answer && (!newest || String(answer.meta?.lastUpdated) > String(/** @type {SubmittedRequest} */ (newest).claimResponse.meta?.lastUpdated))) {
      newest = { claim, claimResponse: answer };
    }
  }
  return newest;
}

// What the prescriber can do, per state, in words.
/** @type {Record<string, string[]>} */
export const NEXT_STEPS = {
  pended: [
    "Nothing to do now: the payer's clinical reviewer decides by the due date in the payer's note, and the decision appears here.",
    "This order already has this request: launching the form again does not send a second one. If the order changes before the decision, the change goes to this request as an update.",
  ],
  "more-info": [
    "The payer's reviewer asks for more information (above). Answer it in the form: it goes to the payer as an update of this request, not as a new one, and the review goes on.",
  ],
  approved: ["Give the drug as authorized; quote the authorization number on the claim."],
  denied: [
    "Correct the request: change the order to what the policy covers (the reason above says what was not met), then prepare a corrected request below.",
    "Or ask the payer to reconsider, as the payer's note says; a letter of medical necessity or a peer-to-peer review can support it.",
  ],
  cancelled: ["The request was cancelled. Prepare a new request below if the order still stands."],
};

// What the button under the steps does, by state: a corrected or new request (a new form), or
// the payer's questions answered (the request's own form, sent again as an update).
/** @type {Record<string, string>} */
const BUTTONS = {
  denied: "Prepare a corrected request",
  cancelled: "Prepare a new request",
  "more-info": "Answer the payer's questions",
};

// The steps after a decision, appended to `box` (the denial and cancellation offer a new form).
/**
 * @param {HTMLElement} box
 * @param {string} state
 * @param {(() => void) | undefined} onNewRequest
 */
export function showNextSteps(box, state, onNewRequest) {
  const steps = NEXT_STEPS[state] || [];
  if (!steps.length) return;
  const section = document.createElement("section");
  section.className = "next-steps";
  section.id = "next-steps";
  section.append(element("h3", "What you can do next"), listOf(steps));
  const label = BUTTONS[state];
  if (onNewRequest && label) {
    const button = /** @type {HTMLButtonElement} */ (element("button", label, "primary"));
    button.type = "button";
    button.id = state === "more-info" ? "answer-more" : "new-request";
    button.addEventListener("click", () => onNewRequest());
    section.append(button);
  }
  box.append(section);
}

const FIRST_LOOK_MS = 2000;
const LONGEST_WAIT_MS = 60000;

// The page of an order that already has a request, in `done`: its state, shown by `show`
// (claimResponse, onNewRequest, onAnswer) -> final, read again by `reread` until it is decided
// (after 2 s, doubling to a minute; no look while the tab is hidden). Resolves when the
// prescriber asks for a corrected (or new) request, with nothing: a new form opens; or answers
// the payer's ask, with the request: its own form opens, to go back as an update.
/**
 * @param {HTMLElement} done
 * @param {SubmittedRequest} first
 * @param {(claimResponse: Resource, onNewRequest: () => void, onAnswer: () => void) => boolean} show
 * @param {() => Promise<SubmittedRequest | null>} reread
 * @returns {Promise<SubmittedRequest | undefined>}
 */
export function openOnRequest(done, first, show, reread) {
  return new Promise((resolve) => {
    done.hidden = false;
    done.className = "done";
    done.innerHTML = "";
    const heading = element("h2", "This order already has a prior-authorization request");
    const box = element("section", "", "pa");
    box.id = "pa";
    done.append(heading, box);
    document.body.dataset.state = "request";
    let latest = first;
    let left = false;
    const leave = (/** @type {SubmittedRequest | undefined} */ answering) => {
      left = true;
      done.hidden = true;
      done.innerHTML = "";
      resolve(answering);
    };
    const again = () => leave(undefined);
    const answer = () => leave(latest);
    let final = show(first.claimResponse, again, answer);
    const waits = backoff(FIRST_LOOK_MS, LONGEST_WAIT_MS);
    const follow = async () => {
      while (!final && !left) {
        await new Promise((wait) => setTimeout(wait, waits.next()));
        if (document.hidden || left) continue;
        const now = await reread().catch(() => null);
        if (now && !left) {
          latest = now;
          final = show(now.claimResponse, again, answer);
        }
      }
    };
    void follow();
  });
}
