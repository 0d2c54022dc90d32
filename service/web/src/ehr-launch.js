// @ts-check
// The SMART launch completed (fhirclient): the EHR client, the patient, the order the form is
// about, the Coverage and the CRD coverage-assertion-id, into the store.
import FHIR from "fhirclient";
import { findContext, launchContext, parseAppContext } from "./responses.js";
import { store } from "./state.js";

// The order types a CRD hook may name (CDS Hooks order-sign draftOrders): the first in the
// launch's fhirContext is the order the form is about.
const ORDER_TYPES = ["MedicationRequest", "ServiceRequest", "DeviceRequest", "NutritionOrder", "VisionPrescription", "CommunicationRequest"];

/**
 * @returns {Promise<{ context: Record<string, string>, launch: ReturnType<typeof launchContext> }>}
 *   the launch's fhirContext by type, and what it names for DTR
 */
export async function readLaunch() {
  const client = await FHIR.oauth2.ready();
  const token = client.state.tokenResponse || {};
  const context = findContext(token.fhirContext);
  const app = parseAppContext(token.appContext);

  const patient = await client.patient.read();
  const orderRef = ORDER_TYPES.map((type) => context[type]).find(Boolean) || app.order;
  if (!orderRef) throw new Error("The EHR launched the form without an order in context.");
  const order = await client.request(orderRef);
  const launch = launchContext(context, app, order);
  const coverage = launch.coverage ? await client.request(launch.coverage) : null;
  store.set({ client, patient, order, coverage, assertionId: launch.coverageAssertionId });
  return { context, launch };
}
