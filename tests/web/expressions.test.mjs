// Unit tests of service/web/src/expressions.js: `node --test tests/web/` (run by `make test`).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ALTERNATIVE_EXPRESSION, withFhirPathExpressions } from "../../service/web/src/expressions.js";

const QUESTIONNAIRE = JSON.parse(
  readFileSync(new URL("../../policies/blinatumomab/Questionnaire-blinatumomab-pa.json", import.meta.url)),
);

const expression = (language, text, extension) => ({
  ...(extension ? { extension } : {}),
  language,
  expression: text,
});
const alternative = (language, text) => ({ url: ALTERNATIVE_EXPRESSION, valueExpression: expression(language, text) });

test("a CQL expression with a FHIRPath alternative is rendered as that alternative, its name kept", () => {
  const questionnaire = {
    extension: [
      {
        url: "http://hl7.org/fhir/StructureDefinition/variable",
        valueExpression: { name: "w", ...expression("text/cql", '"PA"."W"', [alternative("text/fhirpath", "%resource.w")]) },
      },
    ],
    item: [
      {
        linkId: "g",
        type: "group",
        item: [
          { linkId: "c", type: "decimal", extension: [{ url: "calc", valueExpression: expression("text/cql", '"PA".C', [alternative("text/fhirpath", "%w * 2")]) }] },
          { linkId: "i", type: "decimal", extension: [{ url: "initial", valueExpression: expression("text/cql", '"PA".I') }] },
          { linkId: "o", type: "decimal", extension: [{ url: "other", valueExpression: expression("text/cql", '"PA".O', [alternative("text/x-other", "o")]) }] },
        ],
      },
    ],
  };
  const rendered = withFhirPathExpressions(questionnaire);
  assert.deepEqual(rendered.extension[0].valueExpression, { name: "w", language: "text/fhirpath", expression: "%resource.w" });
  const [c, i, o] = rendered.item[0].item.map((item) => item.extension[0].valueExpression);
  assert.deepEqual(c, { language: "text/fhirpath", expression: "%w * 2" });
  assert.equal(i.language, "text/cql", "no alternative: the CQL stays (the app evaluates it)");
  assert.equal(o.language, "text/cql", "an alternative in another language is not FHIRPath");
  assert.equal(questionnaire.extension[0].valueExpression.language, "text/cql", "the payer's Questionnaire is not changed");
});

test("the policy's variables and BSA calculation render as FHIRPath; its prefill stays CQL", () => {
  const rendered = withFhirPathExpressions(QUESTIONNAIRE);
  const variables = rendered.extension.filter((e) => e.url.endsWith("/variable")).map((e) => e.valueExpression);
  assert.deepEqual(variables.map((v) => [v.name, v.language]), [["weight", "text/fhirpath"], ["height", "text/fhirpath"]]);
  const found = [];
  const walk = (items) => {
    for (const item of items || []) {
      for (const e of item.extension || []) if (e.valueExpression) found.push([item.linkId, e.url.split("-").pop(), e.valueExpression.language]);
      walk(item.item);
    }
  };
  walk(rendered.item);
  assert.deepEqual(found.filter(([, , language]) => language === "text/fhirpath"), [["bsa-m2", "calculatedExpression", "text/fhirpath"]]);
  assert.ok(found.filter(([, kind]) => kind === "initialExpression").every(([, , language]) => language === "text/cql"));
});
