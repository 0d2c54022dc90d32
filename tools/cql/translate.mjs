// @ts-check
// Translates every CQL library with the official CQL-to-ELM translator (@cqframework/cql) into the
// `elm/` folder beside it: the shared libraries in cql/ (FHIRHelpers) and each policy's own in
// policies/<id>/cql/ (and the test policies' in tests/policies/<id>/cql/). A policy library
// includes from its own folder first, then from cql/. Zero errors are required; warnings are
// listed. `--check` translates into memory and fails when the committed ELM differs (the
// freshness check CI runs). `--stdin` translates the one library read from stdin (it may include
// the shared libraries) and writes its ELM to stdout: the tests' operator oracle.
//
// Options: locators and result types (the Python bridge reports file:line and reads types),
// annotations off (the ELM stays small and stable), list demotion/promotion disabled (the CQL must
// say what it means), signatures at the Overloads level (the bridge resolves overloads itself).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  CqlCompilerOptions,
  CqlTranslator,
  LibraryBuilder,
  LibraryManager,
  ModelManager,
  createLibrarySourceProvider,
  createModelInfoProvider,
  createUcumService,
  stringAsSource,
} from "@cqframework/cql/cql-to-elm";
import { SystemModelInfoProvider } from "@cqframework/cql/cql";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const sharedDir = path.join(root, "cql");
const policyCqlDirs = (/** @type {string} */ parent) =>
  fs.existsSync(parent)
    ? fs.readdirSync(parent).sort().map((id) => path.join(parent, id, "cql")).filter((d) => fs.existsSync(d))
    : [];
const cqlDirs = [sharedDir, ...policyCqlDirs(path.join(root, "policies")), ...policyCqlDirs(path.join(root, "tests", "policies"))];
const check = process.argv.includes("--check");

const modelInfoDir = path.join(path.dirname(require.resolve("cql-exec-fhir")), "modelInfos");
const ucum = require("@lhncbc/ucum-lhc").UcumLhcUtils.getInstance();

function modelInfoProvider() {
  return createModelInfoProvider((id, _system, version) => {
    if (id !== "FHIR" || version !== "4.0.1") return null;
    return stringAsSource(fs.readFileSync(path.join(modelInfoDir, "fhir-modelinfo-4.0.1.xml"), "utf8"));
  });
}

/** @param {string} ownDir */
function librarySourceProvider(ownDir) {
  return createLibrarySourceProvider((id) => {
    for (const dir of [ownDir, sharedDir]) {
      const file = path.join(dir, `${id}.cql`);
      if (fs.existsSync(file)) return stringAsSource(fs.readFileSync(file, "utf8"));
    }
    return null;
  });
}

function ucumService() {
  return createUcumService(
    (value, from, to) => String(ucum.convertUnitTo(from, Number(value), to).toVal),
    (unit) => {
      const result = ucum.validateUnitString(unit, true);
      return result.status === "valid" ? null : `invalid UCUM unit '${unit}'`;
    },
    (left) => left,
    (left) => left,
  );
}

function options() {
  const O = CqlCompilerOptions.Options;
  return new CqlCompilerOptions()
    .withOptions([O.EnableLocators, O.EnableResultTypes, O.DisableListDemotion, O.DisableListPromotion])
    .withSignatureLevel(LibraryBuilder.SignatureLevel.Overloads);
}

/**
 * @param {unknown} value
 * @returns {unknown}
 */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const object = /** @type {Record<string, unknown>} */ (value);
    return Object.fromEntries(Object.keys(object).sort().map((k) => [k, sortKeys(object[k])]));
  }
  return value;
}

// The Kotlin-built locator only exposes its position through toString().
/**
 * @param {{ message?: string, locator?: { toString(): string } }} exception
 * @param {string} file
 */
function describe(exception, file) {
  const text = exception.locator ? exception.locator.toString() : "";
  const line = /startLine=(\d+)/.exec(text);
  const column = /startChar=(\d+)/.exec(text);
  const where = line ? `${file}:${line[1]}:${column ? column[1] : 0}` : file;
  return `${where}: ${exception.message}`;
}

/** @param {string} file */
function translate(file) {
  return translateText(fs.readFileSync(file, "utf8"), path.dirname(file), path.relative(root, file));
}

// `text`, a library that includes from `ownDir` first, then from cql/; `rel` names it in messages.
/**
 * @param {string} text
 * @param {string} ownDir
 * @param {string} rel
 */
function translateText(text, ownDir, rel) {
  const modelManager = new ModelManager();
  modelManager.modelInfoLoader.registerModelInfoProvider(new SystemModelInfoProvider());
  modelManager.modelInfoLoader.registerModelInfoProvider(modelInfoProvider());
  const libraryManager = new LibraryManager(modelManager, options(), null, ucumService());
  libraryManager.librarySourceLoader.registerProvider(librarySourceProvider(ownDir));
  const translator = CqlTranslator.fromText(text, libraryManager);
  const errors = translator.errors.asJsReadonlyArrayView().map((e) => describe(e, rel));
  const warnings = translator.warnings.asJsReadonlyArrayView().map((e) => describe(e, rel));
  const elm = /** @type {{ library: { identifier: { id: string } } }} */ (sortKeys(JSON.parse(translator.toJson())));
  return { errors, warnings, text: JSON.stringify(elm, null, 1) + "\n", name: elm.library.identifier.id };
}

function translateStdin() {
  const { errors, text } = translateText(fs.readFileSync(0, "utf8"), sharedDir, "<stdin>");
  for (const e of errors) console.error(`error ${e}`);
  // Written to the end before the process exits (a pipe takes 64 KB at once).
  if (errors.length) process.exit(1);
  else process.stdout.write(text, () => process.exit(0));
}

function translateAll() {
  let failed = false;
  for (const cqlDir of cqlDirs) {
    const elmDir = path.join(cqlDir, "elm");
    for (const name of fs.readdirSync(cqlDir).filter((f) => f.endsWith(".cql")).sort()) {
      const file = path.join(cqlDir, name);
      const { errors, warnings, text, name: library } = translate(file);
      for (const w of warnings) console.warn(`warning ${w}`);
      for (const e of errors) console.error(`error ${e}`);
      if (errors.length) { failed = true; continue; }
      const target = path.join(elmDir, `${library}.json`);
      if (check) {
        const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
        if (committed !== text) { console.error(`stale: ${path.relative(root, target)} (run make cql)`); failed = true; }
      } else {
        fs.mkdirSync(elmDir, { recursive: true });
        fs.writeFileSync(target, text);
        console.log(`translated ${path.relative(root, file)} -> ${path.relative(root, target)} (${errors.length} errors, ${warnings.length} warnings)`);
      }
    }
  }
  if (check && !failed) console.log("every elm/ is fresh: it is what the .cql beside it translates to");
  process.exit(failed ? 1 : 0);
}

if (process.argv.includes("--stdin")) translateStdin();
else translateAll();
