// @ts-check
// The response as the form holds it now, made a DTR QuestionnaireResponse: the payer's
// canonical, status, subject, author, this form's identifier, its context (the order and the
// Coverage), intendedUse and where each answer came from (information-origin).
import { QR_CONTEXT, reference } from "./ehr.js";
import { formResponse } from "./lforms.js";
import { ASSERTION_TAG, annotateOrigins } from "./responses.js";
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */

const QR_PROFILE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse";
export const INTENDED_USE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse";

/**
 * @param {"in-progress" | "completed"} status
 * @returns {Resource}
 */
export function currentResponse(status) {
  const session = store.get();
  const qr = formResponse();
  delete qr.id;
  qr.questionnaire = session.canonical;
  qr.status = status;
  qr.subject = { reference: `Patient/${session.patient?.id}` };
  qr.authored = new Date().toISOString();
  qr.identifier = session.identifier;
  const fhirUser = session.client?.getFhirUser?.() || null;
  if (fhirUser) qr.author = { reference: fhirUser };
  qr.meta = { profile: [QR_PROFILE] };
  if (session.assertionId) qr.meta.tag = [{ system: ASSERTION_TAG, code: session.assertionId }];
  qr.extension = [
    { url: QR_CONTEXT, valueReference: { reference: reference(/** @type {Resource} */ (session.order)) } },
  ];
  if (session.coverage) {
    qr.extension.push({ url: QR_CONTEXT, valueReference: { reference: `Coverage/${session.coverage.id}` } });
  }
  qr.extension.push(...(session.intendedUse || []));
  annotateOrigins(qr, session.prefilled, fhirUser);
  return qr;
}
