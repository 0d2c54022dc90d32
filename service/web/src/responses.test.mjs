// Unit tests of the app's response helpers: `node --test service/web/src/` (run by `make test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  INFORMATION_ORIGIN,
  annotateOrigins,
  answerValues,
  findContext,
  missingRequired,
  parseAppContext,
  sameValue,
} from "./responses.js";

const CS = "https://payer.example.org/fhir/CodeSystem/blinatumomab-pa";
const origin = (answer) =>
  answer.extension.find((e) => e.url === INFORMATION_ORIGIN).extension[0].valueCode;

test("the launch context is read by resource type; a malformed appContext is no context", () => {
  assert.deepEqual(
    findContext([
      { reference: "MedicationRequest/01-blin" },
      { reference: "Coverage/01-cov" },
      { reference: "MedicationRequest/other" },
      { type: "Patient" },
    ]),
    { MedicationRequest: "MedicationRequest/01-blin", Coverage: "Coverage/01-cov" },
  );
  assert.deepEqual(findContext(undefined), {});
  assert.deepEqual(parseAppContext('{"coverageAssertionId": "a1"}'), { coverageAssertionId: "a1" });
  assert.deepEqual(parseAppContext("questionnaire=x"), {});
  assert.deepEqual(parseAppContext(null), {});
});

test("unchanged answers stay auto, changed ones become override, new ones manual", () => {
  const prefilled = new Map([
    ["weight-kg", { valueDecimal: 72 }],
    ["phase", { valueCoding: { system: CS, code: "consolidation" } }],
  ]);
  const response = {
    item: [
      {
        linkId: "body",
        item: [{ linkId: "weight-kg", answer: [{ valueDecimal: 72.0 }] }],
      },
      {
        linkId: "treatment",
        item: [
          { linkId: "phase", answer: [{ valueCoding: { system: CS, code: "maintenance", display: "Maintenance" } }] },
          { linkId: "cycle-number", answer: [{ valueInteger: 2 }] },
        ],
      },
    ],
  };
  annotateOrigins(response, prefilled);
  const answers = answerValues(response);
  assert.equal(origin(answers.get("weight-kg")), "auto");
  assert.equal(origin(answers.get("phase")), "override");
  assert.equal(origin(answers.get("cycle-number")), "manual");
  annotateOrigins(response, prefilled);
  assert.equal(answers.get("weight-kg").extension.length, 1, "annotating twice keeps one origin");
});

test("values compare by type, code and number", () => {
  assert.ok(sameValue({ valueDecimal: 28 }, { valueDecimal: 28.0 }));
  assert.ok(!sameValue({ valueDecimal: 28 }, { valueInteger: 28 }));
  assert.ok(sameValue({ valueCoding: { system: CS, code: "a", display: "A" } }, { valueCoding: { system: CS, code: "a" } }));
  assert.ok(!sameValue({ valueCoding: { system: CS, code: "a" } }, { valueCoding: { system: "other", code: "a" } }));
  assert.ok(!sameValue({ valueDate: "2026-01-01" }, { valueDate: "2026-01-02" }));
});

test("required questions left unanswered are listed in form order, only when shown", () => {
  const questionnaire = {
    item: [
      {
        linkId: "g",
        type: "group",
        item: [
          { linkId: "a", type: "decimal", required: true, text: "A" },
          { linkId: "b", type: "decimal", required: true, text: "B" },
          { linkId: "c", type: "decimal", text: "C" },
          { linkId: "d", type: "decimal", required: true, text: "D" },
        ],
      },
    ],
  };
  const answers = new Map([["a", { valueDecimal: 1 }]]);
  const missing = missingRequired(questionnaire, answers, new Set(["a", "b", "c"]));
  assert.deepEqual(missing, [{ linkId: "b", text: "B" }]);
});
