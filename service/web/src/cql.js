// @ts-check
// The questionnaire package's CQL run on the DTR client with the official engine (cql-execution +
// cql-exec-fhir): DTR spec-59, the supplied CQL is the basis for pre-population. It reads the ELM
// of the package's Libraries, matches codes against the package's ValueSets, evaluates over the
// patient's data and turns each item's sdc-questionnaire-initialExpression define into an answer.
// No DOM and no network: the app (app.js) and the Node tests (tools/cql/run-dtr-prefill.mjs) give
// it what they read.
import cql from "cql-execution";
import cqlfhir from "cql-exec-fhir";
import { normalisedCode } from "./codes.js";
import { prefillDefines } from "./responses.js";

/** @typedef {import("./fhir.js").Json} Json */

const ELM_JSON = "application/elm+json";
const CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library";

// Library name -> ELM JSON, from every Library in the package that carries ELM.
/**
 * @param {Json[]} resources
 * @returns {Record<string, Json>}
 */
export function elmLibraries(resources) {
  /** @type {Record<string, Json>} */
  const found = {};
  for (const library of resources.filter((r) => r.resourceType === "Library")) {
    const content = (library.content || []).find((/** @type {Json} */ c) => c.contentType === ELM_JSON && c.data);
    if (!content) continue;
    const elm = JSON.parse(utf8(content.data));
    found[elm.library.identifier.id] = elm;
  }
  return found;
}

/** @param {string} base64 */
function utf8(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// The library the Questionnaire names (cqf-library), by the name of its package Library.
/**
 * @param {Json} questionnaire
 * @param {Json[]} resources
 * @returns {string | null}
 */
export function mainLibraryName(questionnaire, resources) {
  const canonical = (questionnaire.extension || []).find((/** @type {Json} */ e) => e.url === CQF_LIBRARY)?.valueCanonical;
  if (!canonical) return null;
  const [url, version] = canonical.split("|");
  const library = resources.find(
    (r) => r.resourceType === "Library" && r.url === url && (!version || r.version === version),
  );
  return library?.name || null;
}

// ---------------------------------------------------------------- terminology

// A package ValueSet as cql-execution's code service sees one: its expansion when it has one,
// otherwise its enumerated codes and its `is-a` filters (matched as code prefixes, the way the
// payer reads ICD-10-CM hierarchies); codes compared in the payer's normalised spelling.
class PackageValueSet {
  /** @param {Json} valueSet */
  constructor(valueSet) {
    this.oid = valueSet.url;
    this.id = valueSet.url;
    this.version = valueSet.version || "";
    /** @type {InstanceType<typeof cql.Code>[]} */
    this.codes = [];
    this.isValueSet = true;
    /** @type {Set<string>} */
    this.keys = new Set();
    /** @type {string[]} */
    this.prefixes = [];
    const contains = valueSet.expansion?.contains;
    if (contains) {
      for (const c of contains) this.add(c.system, c.code);
      return;
    }
    for (const include of valueSet.compose?.include || []) {
      for (const c of include.concept || []) this.add(include.system, c.code);
      for (const f of include.filter || []) {
        if (f.op === "is-a" || f.op === "descendent-of") this.prefixes.push(normalisedCode(include.system, f.value));
      }
    }
  }

  /**
   * @param {string} system
   * @param {string} code
   */
  add(system, code) {
    this.keys.add(normalisedCode(system, code));
    this.codes.push(new cql.Code(code, system));
  }

  // CQL ExpandValueSet: the codes listed; a set defined by a filter has no list here.
  expand() {
    if (this.prefixes.length) throw new Error(`the package's ValueSet ${this.oid} is defined by a filter and cannot be expanded`);
    return this.codes;
  }

  /** @param {any} code a cql-execution Code, Concept or list of Codes */
  hasMatch(code) {
    /** @type {Json[]} */
    const codes = Array.isArray(code) ? code : code?.codes ? code.codes : [code];
    return codes.some((c) => {
      if (!c || c.code == null) return false;
      const key = normalisedCode(c.system, c.code);
      return this.keys.has(key) || this.prefixes.some((p) => key.startsWith(p));
    });
  }
}

// cql-execution's terminology interface, over the package's ValueSets.
export class PackageCodeService {
  /** @param {Json[]} valueSets */
  constructor(valueSets) {
    /** @type {Record<string, PackageValueSet>} */
    this.valueSets = Object.fromEntries(valueSets.map((v) => [v.url, new PackageValueSet(v)]));
  }

  /** @param {string} oid */
  findValueSetsByOid(oid) {
    return this.valueSets[oid] ? [this.valueSets[oid]] : [];
  }

  /** @param {string} oid */
  findValueSet(oid) {
    return this.valueSets[oid] || null;
  }
}

// The ValueSet canonicals the libraries use that the package does not carry.
/**
 * @param {Record<string, Json>} libraries
 * @param {Json[]} valueSets
 * @returns {string[]}
 */
export function missingValueSets(libraries, valueSets) {
  const have = new Set(valueSets.map((v) => v.url));
  /** @type {string[]} */
  const used = Object.values(libraries).flatMap((elm) => (elm.library.valueSets?.def || []).map((/** @type {Json} */ d) => d.id));
  return [...new Set(used)].filter((url) => !have.has(url));
}

// ---------------------------------------------------------------- evaluation

// Every define the items name, evaluated for the one patient in `patientBundle`. `today` is a
// "YYYY-MM-DD" string: the Evaluation Date and the engine's own clock (noon UTC that day).
/**
 * @param {{ libraries: Record<string, Json>, main: string | null, codeService: PackageCodeService, patientBundle: Json, orderId: string, today: string, source?: any }} what
 * @returns {Promise<Record<string, any>>} define name -> result
 */
export async function evaluateDefines({ libraries, main, codeService, patientBundle, orderId, today, source = fhirSource() }) {
  const elm = main ? libraries[main] : undefined;
  if (!elm) throw new Error(`the package has no ELM for library ${main}`);
  const library = new cql.Library(elm, new cql.Repository(libraries));
  /** @type {Record<string, unknown>} */
  const given = { "Order Id": orderId, "Evaluation Date": cql.Date.parse(today) };
  // Every declared parameter is passed, null when not given: in cql-execution an unset parameter
  // without a default evaluates to its own definition.
  /** @type {Record<string, unknown>} */
  const parameters = {};
  for (const declaration of elm.library.parameters?.def || []) {
    parameters[declaration.name] = given[declaration.name] ?? null;
  }
  const executor = new cql.Executor(library, codeService, parameters);
  source.loadBundles([patientBundle]);
  const results = await executor.exec(source, cql.DateTime.parse(`${today}T12:00:00.000Z`) ?? undefined);
  const [patientResults] = Object.values(results.patientResults);
  if (!patientResults) throw new Error("the patient's data holds no Patient");
  return patientResults;
}

// linkId -> answer (value[x] only) for each item of `questionnaire` whose define gave a value.
// `valueSets` resolve a bare code for a choice item (its answerValueSet's expansion).
/**
 * @param {Json} questionnaire
 * @param {Map<string, { library: string, define: string }>} defines
 * @param {Record<string, any>} results
 * @param {Json[]} valueSets
 * @returns {Map<string, Json>}
 */
export function prefillAnswers(questionnaire, defines, results, valueSets) {
  const answers = new Map();
  /** @param {Json[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      const named = defines.get(item.linkId);
      if (named) {
        const answer = typedAnswer(item, results[named.define], valueSets);
        if (answer) answers.set(item.linkId, answer);
      }
      walk(item.item);
    }
  };
  walk(questionnaire.item);
  return answers;
}

/**
 * @param {Json} item
 * @param {any} result a define's result, as cql-execution gives it
 * @param {Json[]} valueSets
 * @returns {Json | null}
 */
function typedAnswer(item, result, valueSets) {
  // A define may give a list of one (an initialExpression's collection); a question takes one
  // answer, so more than one value leaves it to the prescriber, as the server does.
  const value = Array.isArray(result) ? (result.length === 1 ? result[0] : null) : result;
  if (value === null || value === undefined) return null;
  switch (item.type) {
    case "decimal":
      return { valueDecimal: Number(value.isQuantity ? value.value : value) };
    case "integer":
      return { valueInteger: Math.trunc(Number(value)) };
    case "boolean":
      return { valueBoolean: Boolean(value) };
    case "date":
      return { valueDate: String(value).slice(0, 10) };
    case "choice":
    case "open-choice": {
      const coding = answerCoding(item, value, valueSets);
      return coding ? { valueCoding: coding } : null;
    }
    default:
      return { valueString: String(value) };
  }
}

/**
 * @param {Json} item
 * @param {any} value
 * @param {Json[]} valueSets
 * @returns {Json | null}
 */
function answerCoding(item, value, valueSets) {
  if (value.isCode) {
    const offered = (item.answerOption || []).find(
      (/** @type {Json} */ o) => o.valueCoding?.system === value.system && o.valueCoding?.code === value.code,
    );
    if (offered) return { ...offered.valueCoding };
    /** @type {Json} */
    const coding = { system: value.system, code: value.code };
    if (value.display) coding.display = value.display;
    return coding;
  }
  const [url, version] = (item.answerValueSet || "").split("|");
  const valueSet = valueSets.find((v) => v.url === url && (!version || v.version === version));
  const concept = valueSetConcepts(valueSet).find((c) => c.code === String(value));
  if (!concept) return null;
  return Object.fromEntries(["system", "code", "display"].filter((k) => concept[k]).map((k) => [k, concept[k]]));
}

// A ValueSet's codes: its expansion, else the codes its compose enumerates.
/**
 * @param {Json | undefined} valueSet
 * @returns {Json[]}
 */
function valueSetConcepts(valueSet) {
  if (valueSet?.expansion?.contains) return valueSet.expansion.contains;
  return (valueSet?.compose?.include || []).flatMap((/** @type {Json} */ include) =>
    (include.concept || []).map((/** @type {Json} */ c) => ({ system: include.system, code: c.code, display: c.display })),
  );
}

// ---------------------------------------------------------------- the whole step

// An empty FHIR R4 patient source. Building one parses the FHIR model info (about half a second
// in a browser): the caller may build it while the record's searches are still on the network.
export function fhirSource() {
  return cqlfhir.PatientSource.FHIRv401();
}

// The package's CQL over the patient's data: linkId -> answer for every item it can answer.
/**
 * @param {{ resources: Json[], patientBundle: Json, orderId: string, today: string, valueSets?: Json[], source?: any }} what
 * @returns {Promise<Map<string, Json>>}
 */
export async function packagePrefill({ resources, patientBundle, orderId, today, valueSets = [], source }) {
  const questionnaire = resources.find((r) => r.resourceType === "Questionnaire");
  if (!questionnaire) throw new Error("the package holds no Questionnaire");
  const libraries = elmLibraries(resources);
  const main = mainLibraryName(questionnaire, resources);
  const sets = [...resources.filter((r) => r.resourceType === "ValueSet"), ...valueSets];
  // Only the defines of the Questionnaire's own library are evaluated here.
  const defines = new Map([...prefillDefines(questionnaire)].filter(([, d]) => d.library === main));
  const results = await evaluateDefines({
    libraries,
    main,
    codeService: new PackageCodeService(sets),
    patientBundle,
    orderId,
    today,
    source,
  });
  return prefillAnswers(questionnaire, defines, results, sets);
}
