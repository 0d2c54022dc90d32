// @ts-check
// The test oracle: the official JavaScript CQL engine (cql-execution + cql-exec-fhir) runs our
// ELM over one patient and prints every requested define as normalised JSON, so the Python
// bridge's answers can be compared define by define. Test tooling only, never on the request path.
//
// stdin: a list of cases {"bundle": <FHIR Bundle>, "parameters": {...}, "defines": [...],
// "library": <the policy's library name>, "policyDir": <its policy folder, absolute>}; stdout: the
// list of their results, in order. A case without `policyDir` is of the folder under policies/
// whose cql/elm holds its library. A case with `elm` (a library's ELM JSON, which may include
// FHIRHelpers) runs that library, with no ValueSets: the tests' operator oracle.
// Parameters: strings, numbers, booleans; values of "Date" parameters are "YYYY-MM-DD" strings.
// The terminology mirrors the service's: ValueSets from the policy folder's terminology/, the same code
// spellings normalised (NDC 10-digit forms, ICD-10-CM dots, system aliases), is-a filters by prefix.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const cql = require("cql-execution");
const cqlfhir = require("cql-exec-fhir");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** @typedef {Record<string, any>} Json */

const aliases = JSON.parse(fs.readFileSync(path.join(root, "service/terminology/system_aliases.json"), "utf8")).aliases;
const NDC = "http://hl7.org/fhir/sid/ndc";
const ICD = "http://hl7.org/fhir/sid/icd-10-cm";
const HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";

// Values from FHIR data may arrive as cql-exec-fhir primitives ({value: ...}).
const text = (/** @type {unknown} */ v) => (v == null ? "" : String(typeof v === "object" && "value" in v ? v.value : v)).trim();

/**
 * @param {unknown} system
 * @param {unknown} code
 */
function normalise(system, code) {
  const s = aliases[text(system)] || text(system);
  let c = text(code);
  if (s === NDC) {
    const parts = c.split("-");
    /** @type {number[] | undefined} */
    const pad = /** @type {Record<string, number[]>} */ ({ "4,4,2": [1, 0, 0], "5,3,2": [0, 1, 0], "5,4,1": [0, 0, 1], "5,4,2": [0, 0, 0] })[parts.map((p) => p.length).join(",")];
    if (parts.length === 3 && pad && parts.every((p) => /^\d+$/.test(p))) c = parts.map((p, i) => "0".repeat(/** @type {number[]} */ (pad)[i]) + p).join("");
  } else if (s === ICD) c = c.toUpperCase().replaceAll(".", "");
  else if (s === HCPCS) c = c.toUpperCase();
  return `${s}|${c}`;
}

class PolicyValueSet {
  /**
   * @param {string} url
   * @param {string[]} codes
   * @param {string[]} prefixes
   */
  constructor(url, codes, prefixes) {
    this.oid = url; this.id = url; this.version = ""; this.isValueSet = true;
    /** @type {unknown[]} */
    this.codes = [];
    this.keys = new Set(codes); this.prefixes = prefixes;
  }
  // CQL ExpandValueSet needs the codes themselves; the oracle keeps only their normalised keys.
  /** @returns {never} */
  expand() {
    throw new Error(`the oracle cannot expand ValueSet ${this.oid}`);
  }
  /** @param {any} code */
  hasMatch(code) {
    /** @type {Json[]} */
    const codes = Array.isArray(code) ? code : code && code.codes ? code.codes : [code];
    return codes.some((c) => {
      if (!c || c.code == null) return false;
      const key = normalise(c.system, c.code);
      return this.keys.has(key) || this.prefixes.some((p) => key.startsWith(p));
    });
  }
}

/**
 * @param {string} policyDir
 * @returns {Record<string, PolicyValueSet>}
 */
function loadValueSets(policyDir) {
  /** @type {Record<string, { codes: string[], prefixes: string[], imports: string[] }>} */
  const sets = {};
  const dir = path.join(policyDir, "terminology");
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith("ValueSet-"))) {
    const vs = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
    /** @type {string[]} */
    const codes = [];
    /** @type {string[]} */
    const prefixes = [];
    for (const inc of vs.compose.include) {
      for (const c of inc.concept || []) codes.push(normalise(inc.system, c.code));
      for (const f of inc.filter || []) prefixes.push(normalise(inc.system, f.value));
    }
    sets[vs.url] = { codes, prefixes, imports: vs.compose.include.flatMap((/** @type {Json} */ i) => i.valueSet || []) };
  }
  /**
   * @param {string} url
   * @returns {{ codes: string[], prefixes: string[] }}
   */
  const flat = (url) => { const s = sets[url]; return s.imports.reduce((acc, u) => { const f = flat(u); return { codes: [...acc.codes, ...f.codes], prefixes: [...acc.prefixes, ...f.prefixes] }; }, { codes: s.codes, prefixes: s.prefixes }); };
  return Object.fromEntries(Object.keys(sets).map((url) => { const f = flat(url); return [url, new PolicyValueSet(url, f.codes, f.prefixes)]; }));
}

class PolicyCodeService {
  /** @param {Record<string, PolicyValueSet>} valueSets */
  constructor(valueSets) { this.valueSets = valueSets; }
  /** @param {string} oid */
  findValueSetsByOid(oid) { return this.valueSets[oid] ? [this.valueSets[oid]] : []; }
  /** @param {string} oid */
  findValueSet(oid) { return this.valueSets[oid] || null; }
}

/**
 * @param {any} value a result as cql-execution gives it
 * @returns {unknown}
 */
function normaliseValue(value) {
  if (value == null) return null;
  if (Array.isArray(value)) return value.map(normaliseValue);
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return { decimal: String(value) };
  if (value.isDate) return { date: value.toString() };
  if (value.isDateTime) return { datetime: value.toString() };
  if (value.isQuantity) return { quantity: String(value.value), unit: value.unit };
  if (value.isCode) return { code: value.code, system: value.system };
  if (value.isConcept) return { concept: value.codes.map(normaliseValue) };
  if (value._json && value._json.resourceType) return { resource: `${value._json.resourceType}/${value._json.id}` };
  if (value._json !== undefined) return { element: value._json };
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normaliseValue(v)]));
  return String(value);
}

/** @param {string} library */
function policyDirOf(library) {
  const parent = path.join(root, "policies");
  const found = fs.readdirSync(parent).find((id) => fs.existsSync(path.join(parent, id, "cql", "elm", `${library}.json`)));
  if (!found) throw new Error(`no policy folder holds the library ${library}`);
  return path.join(parent, found);
}

// A library's ELM: from the policy's own cql/elm, else from the shared cql/elm.
/**
 * @param {string} policyDir
 * @param {string} name
 * @returns {Json}
 */
function elmIn(policyDir, name) {
  for (const dir of [path.join(policyDir, "cql", "elm"), path.join(root, "cql", "elm")]) {
    const file = path.join(dir, `${name}.json`);
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
  }
  throw new Error(`no ELM for ${name}`);
}

/** @type {Map<string, PolicyCodeService>} */
const codeServices = new Map();
/** @param {string} policyDir */
function codeServiceOf(policyDir) {
  let found = codeServices.get(policyDir);
  if (!found) codeServices.set(policyDir, (found = new PolicyCodeService(loadValueSets(policyDir))));
  return found;
}

/**
 * @param {{ policyDir?: string, library: string, elm?: Json, parameters?: Json, bundle: Json, today?: string, defines: string[] }} input
 */
async function run(input) {
  const policyDir = input.policyDir || (input.elm ? root : policyDirOf(input.library));
  const elm = (/** @type {string} */ name) => elmIn(policyDir, name);
  const codeService = input.elm ? new PolicyCodeService({}) : codeServiceOf(policyDir);
  const main = input.elm || elm(input.library);
  const library = new cql.Library(main, new cql.Repository({ FHIRHelpers: elm("FHIRHelpers") }));
  // Every declared parameter is passed, null when not given: an unset parameter without a
  // default would otherwise evaluate to its own definition in cql-execution.
  /** @type {Record<string, unknown>} */
  const parameters = {};
  for (const declaration of (main.library.parameters || {}).def || []) {
    const value = (input.parameters || {})[declaration.name];
    // Not given and the library has a default: left unset, so the engine uses the default.
    if (value == null && declaration.default) continue;
    const type = declaration.parameterTypeSpecifier ? declaration.parameterTypeSpecifier.name : "";
    parameters[declaration.name] = value == null ? null
      : type.endsWith("}Date") ? cql.Date.parse(value)
      : type.endsWith("}Decimal") ? Number(value)
      : value;
  }
  const executor = new cql.Executor(library, codeService, parameters);
  const source = cqlfhir.PatientSource.FHIRv401();
  source.loadBundles([input.bundle]);
  const day = (input.parameters || {})["Evaluation Date"] || input.today;
  const results = await executor.exec(source, cql.DateTime.parse(`${day}T12:00:00.000Z`) ?? undefined);
  const patientId = Object.keys(results.patientResults)[0];
  return Object.fromEntries(input.defines.map((name) => [name, normaliseValue(results.patientResults[patientId][name])]));
}

const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const outputs = [];
for (const input of cases) outputs.push(await run(input));
process.stdout.write(JSON.stringify(outputs));
