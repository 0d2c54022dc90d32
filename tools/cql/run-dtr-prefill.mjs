// @ts-check
// What a DTR client pre-fills with the official CQL engine: the questionnaire package's CQL
// (service/web/src/cql.js, the same module the SMART app runs) over one patient's FHIR data.
// Test tooling for tests/cql/test_dtr_prefill.py.
//
// stdin: a list of cases {"package": <the PackageBundle>, "bundle": <the patient's FHIR Bundle>,
// "orderId": "...", "today": "YYYY-MM-DD"}; stdout: per case, {linkId: answer value[x]} of every
// item the CQL answers, or {"error": "..."} when the evaluation failed.
import fs from "node:fs";
import { packagePrefill } from "../../service/web/src/cql.js";

/**
 * @param {{ package: Record<string, any>, bundle: Record<string, any>, orderId: string, today: string }} input
 */
async function run(input) {
  /** @type {Record<string, any>[]} */
  const resources = (input.package.entry || []).map((/** @type {Record<string, any>} */ e) => e.resource);
  try {
    const answers = await packagePrefill({
      resources,
      patientBundle: input.bundle,
      orderId: input.orderId,
      today: input.today,
    });
    return Object.fromEntries(answers);
  } catch (error) {
    return { error: String((error instanceof Error && error.stack) || error) };
  }
}

const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const outputs = [];
for (const input of cases) outputs.push(await run(input));
process.stdout.write(JSON.stringify(outputs));
