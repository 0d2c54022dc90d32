// A test-only page: the Questionnaire rendered by Smart Forms (npm @aehrc/smart-forms-renderer),
// a second SDC renderer beside the app's LHC-Forms. The test gives the Questionnaire and the
// terminology server (the payer's /fhir, for answerValueSet $expand) before the page loads.
import { createRoot } from "react-dom/client";
import { SmartFormsRenderer, getResponse } from "@aehrc/smart-forms-renderer";

window.smartFormsResponse = () => getResponse();
createRoot(document.getElementById("form")).render(
  <SmartFormsRenderer questionnaire={window.QUESTIONNAIRE} terminologyServerUrl={window.TERMINOLOGY} />,
);
