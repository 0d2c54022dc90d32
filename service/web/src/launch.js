// @ts-check
// SMART App Launch 2.0, EHR launch (`iss` + `launch`) or standalone launch (`iss` only): fhirclient
// discovers the EHR's endpoints, sends the authorization request with PKCE (S256) and comes back
// to index.html with the code.
import FHIR from "fhirclient";

// What the form needs from the EHR: the patient, the order (of any type a CRD hook names) and
// coverage in context, the prescriber, the record the package's CQL reads to pre-fill what the
// payer left open (conditions, observations, orders, administrations, medications),
// QuestionnaireResponse read/write for saving drafts and the completed form, and the Claim and
// ClaimResponse the EHR keeps of the prior-authorization request.
const SCOPE = [
  "launch",
  "launch/patient",
  "openid",
  "fhirUser",
  "patient/Patient.rs",
  "patient/MedicationRequest.rs",
  "patient/ServiceRequest.rs",
  "patient/DeviceRequest.rs",
  "patient/Coverage.rs",
  "patient/Claim.rs",
  "patient/ClaimResponse.rs",
  "patient/Condition.rs",
  "patient/Observation.rs",
  "patient/MedicationAdministration.rs",
  "patient/Medication.rs",
  "patient/QuestionnaireResponse.cruds",
].join(" ");

FHIR.oauth2
  .authorize({
    clientId: "payer-dtr-app",
    scope: SCOPE,
    redirectUri: "./index.html",
    pkceMode: "required",
  })
  .catch((error) => {
    const status = document.getElementById("launch-status");
    if (status) status.textContent = `The EHR did not let the form start: ${error.message}`;
  });
