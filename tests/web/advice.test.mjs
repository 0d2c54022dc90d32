// Unit tests of the form's pure helpers: the patient's age on the evaluation date
// (service/web/src/patient-age.js) and a dose over its limit (service/web/src/dose-advice.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import { overLimits } from "../../service/web/src/dose-advice.js";
import { ageText } from "../../service/web/src/patient-age.js";

test("the age is counted to the evaluation date, the birthday itself included", () => {
  assert.equal(ageText("2014-05-01", "2026-11-24"), "12 years");
  assert.equal(ageText("2014-11-24", "2026-11-24"), "12 years");
  assert.equal(ageText("2014-11-25", "2026-11-24"), "11 years");
  assert.equal(ageText("2025-12-30", "2026-11-24"), "10 months");
  assert.equal(ageText("2026-11-01", "2026-11-24"), "3 weeks");
  assert.equal(ageText("2026-11-24", "2026-11-24"), "0 days");
  assert.equal(ageText("2027-01-01", "2026-11-24"), "");
  assert.equal(ageText("2014-05-01", undefined), "");
});

const found = (status, ordered) => ({
  criteria: [{ id: "DOSE", status }],
  limits: [
    { kind: "quantity", criterion: "DOSE", unit: "mcg/day", value: { value: 15.6 }, ordered: { value: ordered } },
    { kind: "count", criterion: "CYCLES", count: 4 },
  ],
});

test("a dose over a limit the policy finds not met says by how much", () => {
  const [over] = overLimits(found("not-met", 28));
  assert.equal(over.over, 12.4);
  assert.equal(over.ordered, 28);
});

test("no advice when the policy finds the dose met or not yet known", () => {
  assert.deepEqual(overLimits(found("met", 15.6)), []);
  assert.deepEqual(overLimits(found("unknown", 28)), []);
});
