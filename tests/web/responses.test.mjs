// Unit tests of the app's response helpers (service/web/src/responses.js): `node --test tests/web/` (run by `make test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  COVERAGE_INFORMATION,
  INFORMATION_ORIGIN,
  annotateOrigins,
  answerValues,
  findContext,
  launchContext,
  missingRequired,
  orderCoverageInformation,
  parseAppContext,
  prefillDefines,
  sameValue,
  withAnswers,
} from "../../service/web/src/responses.js";

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

test("answers the user gave or changed name the user as author (dtrx-1); the record's do not", () => {
  const prefilled = new Map([["weight-kg", { valueDecimal: 72 }], ["phase", { valueCoding: { system: CS, code: "consolidation" } }]]);
  const response = {
    item: [
      { linkId: "weight-kg", answer: [{ valueDecimal: 72 }] },
      { linkId: "phase", answer: [{ valueCoding: { system: CS, code: "maintenance" } }] },
      { linkId: "cycle-number", answer: [{ valueInteger: 2 }] },
    ],
  };
  annotateOrigins(response, prefilled, "Practitioner/p1");
  const parts = (linkId) =>
    Object.fromEntries(
      answerValues(response)
        .get(linkId)
        .extension.find((e) => e.url === INFORMATION_ORIGIN)
        .extension.map((p) => [p.url, p.valueCode || p.extension]),
    );
  const author = [{ url: "practitioner", valueReference: { reference: "Practitioner/p1" } }];
  assert.deepEqual(parts("weight-kg"), { source: "auto" });
  assert.deepEqual(parts("phase"), { source: "override", author });
  assert.deepEqual(parts("cycle-number"), { source: "manual", author });
  annotateOrigins(response, prefilled, "Patient/x");
  assert.deepEqual(parts("phase"), { source: "override" }, "only a Practitioner can be named");
});

test("values compare by type, code and number", () => {
  assert.ok(sameValue({ valueDecimal: 28 }, { valueDecimal: 28.0 }));
  // The payer's CQL Decimal (8 places) and the renderer's recomputation are one value; a real
  // change is not.
  assert.ok(sameValue({ valueDecimal: 1.30128142 }, { valueDecimal: 1.3012814197295424 }));
  assert.ok(!sameValue({ valueDecimal: 44.99636311 }, { valueDecimal: 45 }));
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

const coverageInformation = ({ id, coverage, questionnaire, date }) => ({
  url: COVERAGE_INFORMATION,
  extension: [
    { url: "coverage", valueReference: { reference: coverage } },
    { url: "covered", valueCode: "covered" },
    ...(questionnaire ? [{ url: "questionnaire", valueCanonical: questionnaire }] : []),
    { url: "date", valueDate: date },
    { url: "coverage-assertion-id", valueString: id },
  ],
});
const Q = "https://payer.example.org/fhir/Questionnaire/blinatumomab-pa|2023.2";

test("an EHR launch without appContext finds the assertion in the order's coverage information", () => {
  const order = {
    resourceType: "MedicationRequest",
    id: "o1",
    insurance: [{ reference: "Coverage/c1" }],
    extension: [coverageInformation({ id: "a1", coverage: "Coverage/c1", questionnaire: Q, date: "2026-11-24" })],
  };
  assert.deepEqual(launchContext({ MedicationRequest: "MedicationRequest/o1" }, {}, order), {
    coverageAssertionId: "a1",
    coverage: "Coverage/c1",
    questionnaire: Q,
  });
  const app = { coverageAssertionId: "from-app", questionnaire: ["other|1"], coverage: "Coverage/c2" };
  assert.deepEqual(launchContext({}, app, order), {
    coverageAssertionId: "from-app",
    coverage: "Coverage/c2",
    questionnaire: "other|1",
  });
  const bare = { resourceType: "MedicationRequest", id: "o2", insurance: [{ reference: "Coverage/c9" }] };
  assert.deepEqual(launchContext({}, {}, bare), { coverageAssertionId: null, coverage: "Coverage/c9", questionnaire: null });
});

test("of several coverage informations: the launch's Coverage, else one with a questionnaire, else the newest", () => {
  const order = {
    extension: [
      { url: "http://example.org/other", valueString: "x" },
      coverageInformation({ id: "old-q", coverage: "Coverage/c1", questionnaire: Q, date: "2026-01-01" }),
      coverageInformation({ id: "c2", coverage: "https://ehr.example.org/fhir/Coverage/c2", date: "2026-02-01" }),
      coverageInformation({ id: "new", coverage: "Coverage/c3", date: "2026-03-01" }),
    ],
  };
  assert.equal(orderCoverageInformation(order, "Coverage/c2").coverageAssertionId, "c2");
  assert.equal(orderCoverageInformation(order, "Coverage/c9").coverageAssertionId, "old-q");
  assert.equal(orderCoverageInformation(order, null).coverageAssertionId, "old-q");
  const withoutQuestionnaire = { extension: order.extension.filter((e) => !e.extension?.some((p) => p.url === "questionnaire")) };
  assert.equal(orderCoverageInformation(withoutQuestionnaire, null).coverageAssertionId, "new");
  assert.deepEqual(orderCoverageInformation({}, "Coverage/c1"), {});
});

test("items name their CQL defines in initialExpression; other languages are not ours to run", () => {
  const expression = (language, text) => ({
    url: "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression",
    valueExpression: { language, expression: text },
  });
  const questionnaire = {
    item: [
      {
        linkId: "g",
        type: "group",
        item: [
          { linkId: "w", type: "decimal", extension: [expression("text/cql", '"PA"."Prefill Weight"')] },
          { linkId: "h", type: "decimal", extension: [expression("text/cql", '"PA".PrefillHeight')] },
          { linkId: "x", type: "decimal", extension: [expression("text/cql", '"PA".Prefill Height')] },
          { linkId: "f", type: "decimal", extension: [expression("text/fhirpath", "%patient.id")] },
          { linkId: "n", type: "decimal" },
        ],
      },
    ],
  };
  assert.deepEqual(
    [...prefillDefines(questionnaire)],
    [
      ["w", { library: "PA", define: "Prefill Weight" }],
      ["h", { library: "PA", define: "PrefillHeight" }],
    ],
  );
});

test("record answers fill only what the response leaves open, marked auto", () => {
  const response = {
    item: [
      {
        linkId: "g",
        item: [
          { linkId: "weight-kg", answer: [{ valueDecimal: 70 }] },
          { linkId: "phase" },
          { linkId: "cycle-number", answer: [] },
        ],
      },
    ],
  };
  const answers = new Map([
    ["weight-kg", { valueDecimal: 72 }],
    ["phase", { valueCoding: { system: CS, code: "consolidation" } }],
    ["cycle-number", { valueInteger: 2 }],
    ["not-in-the-form", { valueInteger: 1 }],
  ]);
  const { response: filled, filled: linkIds } = withAnswers(response, answers);
  assert.deepEqual(linkIds, ["phase", "cycle-number"]);
  const values = answerValues(filled);
  assert.equal(values.get("weight-kg").valueDecimal, 70, "what the payer pre-filled stays");
  assert.equal(origin(values.get("phase")), "auto");
  assert.equal(values.get("cycle-number").valueInteger, 2);
  assert.equal(response.item[0].item[1].answer, undefined, "the given response is not changed");
});
