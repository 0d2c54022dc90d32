// @ts-check
// The EHR's FHIR API with this launch's token: drafts of this form, the completed form, and the
// prior-authorization request the EHR keeps (Claim, ClaimResponse).
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */

// DTR qr-context: what a response is about (the order, the Coverage).
export const QR_CONTEXT = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context";

export function ehrClient() {
  const client = store.get().client;
  if (!client) throw new Error("The EHR launch is not complete.");
  return client;
}

/** @param {Resource} resource */
export function reference(resource) {
  return `${resource.resourceType}/${resource.id}`;
}

// A draft saved earlier for this order (DTR "persisting application state"): the one the launch
// names, else the newest in-progress response in the EHR whose context is this order.
/**
 * @param {string | undefined} named
 * @returns {Promise<Resource | null>}
 */
export async function savedDraft(named) {
  const client = ehrClient();
  if (named) return client.request(named);
  const session = store.get();
  const orderRef = reference(/** @type {Resource} */ (session.order));
  const bundle = await client.request(
    `QuestionnaireResponse?subject=Patient/${session.patient?.id}&status=in-progress&_sort=-_lastUpdated`,
  );
  /** @type {Resource[]} */
  const drafts = (bundle.entry || []).map((/** @type {Resource} */ e) => e.resource);
  return (
    drafts.find((qr) =>
      (qr.extension || []).some(
        (/** @type {Resource} */ e) => e.url === QR_CONTEXT && e.valueReference?.reference === orderRef,
      ),
    ) || null
  );
}

/**
 * @param {Resource} qr
 * @returns {Promise<Resource>}
 */
export async function saveToEhr(qr) {
  const client = ehrClient();
  const draft = store.get().draft;
  if (draft?.id) {
    return client.update({ ...qr, id: draft.id });
  }
  return client.create(qr);
}

// The prior-authorization request the EHR made of the completed form `responseId`: among the
// patient's prior-authorization Claims, newest first, the one whose supporting information is
// that form. Null until the EHR has made it.
/**
 * @param {string} responseId
 * @returns {Promise<string | null>} the Claim's id
 */
export async function requestClaim(responseId) {
  const client = ehrClient();
  const patient = store.get().patient?.id;
  /** @type {Resource[]} */
  const claims = await client.request(
    `Claim?patient=Patient/${patient}&use=preauthorization&_sort=-_lastUpdated`,
    { flat: true },
  );
  const claim = (claims || []).find((c) =>
    (c.supportingInfo || []).some(
      (/** @type {Resource} */ i) => i.valueReference?.reference === `QuestionnaireResponse/${responseId}`,
    ),
  );
  return claim?.id || null;
}

// The payer's current answer to Claim `claimId`, as the EHR keeps it (the EHR replaces it when
// the payer's notification arrives): the newest ClaimResponse about it, or null.
/**
 * @param {string} claimId
 * @returns {Promise<Resource | null>}
 */
export async function currentClaimResponse(claimId) {
  /** @type {Resource[]} */
  const answers = await ehrClient().request(`ClaimResponse?request=Claim/${claimId}`, { flat: true });
  const newest = (answers || []).sort((a, b) =>
    String(b.meta?.lastUpdated).localeCompare(String(a.meta?.lastUpdated)),
  );
  return newest[0] || null;
}
