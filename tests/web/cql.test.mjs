// Unit tests of the client-side CQL pre-fill (service/web/src/cql.js): `node --test tests/web/`. The
// package is built here from the repository's own content (Questionnaire, ELM, ValueSets as the
// policy folder writes them, without expansions), the record is an example patient's.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  PackageCodeService,
  elmLibraries,
  mainLibraryName,
  missingValueSets,
  packagePrefill,
  prefillAnswers,
} from "../../service/web/src/cql.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const json = (...parts) => JSON.parse(fs.readFileSync(path.join(root, ...parts), "utf8"));
const ICD = "http://hl7.org/fhir/sid/icd-10-cm";

function library(name) {
  const own = path.join(root, "policies", "blinatumomab", "cql", "elm", `${name}.json`);
  const elm = fs.readFileSync(fs.existsSync(own) ? own : path.join(root, "cql", "elm", `${name}.json`));
  const version = JSON.parse(elm).library.identifier.version;
  return {
    resourceType: "Library",
    name,
    url: `https://payer.example.org/fhir/Library/${name}-${version}`,
    version,
    content: [{ contentType: "application/elm+json", data: elm.toString("base64") }],
  };
}

function packageResources() {
  const terminology = path.join(root, "policies", "blinatumomab", "terminology");
  const valueSets = fs
    .readdirSync(terminology)
    .filter((f) => f.startsWith("ValueSet-"))
    .map((f) => json("policies", "blinatumomab", "terminology", f));
  return [
    json("policies", "blinatumomab", "Questionnaire-blinatumomab-pa.json"),
    library("BlinatumomabPA"),
    library("FHIRHelpers"),
    ...valueSets,
  ];
}

test("the package's libraries are read from their ELM; the Questionnaire names the main one", () => {
  const resources = packageResources();
  const libraries = elmLibraries(resources);
  assert.deepEqual(Object.keys(libraries).sort(), ["BlinatumomabPA", "FHIRHelpers"]);
  assert.equal(mainLibraryName(resources[0], resources), "BlinatumomabPA");
  const valueSets = resources.filter((r) => r.resourceType === "ValueSet");
  assert.deepEqual(missingValueSets(libraries, valueSets), []);
  assert.deepEqual(missingValueSets(libraries, valueSets.slice(1)), [valueSets[0].url]);
});

test("codes match by expansion, enumerated codes or is-a prefix, in the payer's spelling", () => {
  const service = new PackageCodeService([
    { url: "vs:listed", compose: { include: [{ system: ICD, concept: [{ code: "C91.00" }] }] } },
    { url: "vs:filtered", compose: { include: [{ system: ICD, filter: [{ property: "concept", op: "is-a", value: "C83" }] }] } },
    { url: "vs:expanded", expansion: { contains: [{ system: "http://loinc.org", code: "29463-7" }] } },
  ]);
  const code = (system, value) => ({ system, code: value });
  assert.ok(service.findValueSet("vs:listed").hasMatch(code(ICD, "c9100")), "dot and case ignored");
  assert.ok(service.findValueSet("vs:listed").hasMatch(code("urn:oid:2.16.840.1.113883.6.90", "C91.00")));
  assert.ok(service.findValueSet("vs:filtered").hasMatch(code(ICD, "C83.50")));
  assert.ok(!service.findValueSet("vs:filtered").hasMatch(code(ICD, "C91.00")));
  assert.ok(service.findValueSet("vs:expanded").hasMatch({ codes: [code("http://loinc.org", "29463-7")] }));
  assert.deepEqual(service.findValueSetsByOid("vs:unknown"), []);
});

test("an example record pre-fills typed answers from the package's CQL", async () => {
  const folder = path.join("fhir_examples", "01-consolidation-adult-record");
  const answers = await packagePrefill({
    resources: packageResources(),
    patientBundle: json(folder, "bundle.json"),
    orderId: json(folder, "order.json").id,
    today: "2026-11-24",
  });
  assert.deepEqual(answers.get("diagnosis-code").valueCoding, {
    system: ICD,
    code: "C91.01",
    display: "Acute lymphoblastic leukemia, in remission",
  });
  assert.equal(answers.get("ph-status").valueCoding.code, "negative");
  assert.ok(answers.get("ph-status").valueCoding.display, "a bare code takes its display from the answer ValueSet");
  assert.deepEqual(answers.get("b-precursor"), { valueBoolean: true });
  assert.deepEqual(answers.get("weight-kg"), { valueDecimal: 72 });
  assert.ok(!answers.has("phase"), "the record does not say the phase");
});

test("a define's list of one is one answer; a longer list leaves the question to the prescriber", () => {
  const questionnaire = {
    item: ["one", "two", "none"].map((linkId) => ({ linkId, type: "open-choice" })),
  };
  const defines = new Map(["one", "two", "none"].map((linkId) => [linkId, { library: "PA", define: linkId }]));
  const code = (c) => ({ isCode: true, system: ICD, code: c });
  const answers = prefillAnswers(questionnaire, defines, { one: [code("C91.02")], two: [code("C91.00"), code("C91.02")], none: [] }, []);
  assert.deepEqual(answers.get("one"), { valueCoding: { system: ICD, code: "C91.02" } });
  assert.ok(!answers.has("two") && !answers.has("none"));
});

test("a package without ELM for the Questionnaire's library is an error, not an empty answer", async () => {
  const resources = packageResources().filter((r) => r.name !== "BlinatumomabPA");
  await assert.rejects(
    packagePrefill({ resources, patientBundle: { resourceType: "Bundle", entry: [] }, orderId: "x", today: "2026-11-24" }),
  );
});
