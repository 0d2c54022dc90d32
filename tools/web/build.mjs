// @ts-check
// Builds the SMART app the service serves at /dtr/ into service/web/dist/:
// our modules bundled with fhirclient by esbuild, plus LHC-Forms' prebuilt web component and its
// FHIR R4 support file copied from node_modules. The official CQL engine (cql-execution,
// cql-exec-fhir) is split into its own chunk, loaded once the form is on screen. Everything is
// served by the service itself: no CDN at run time.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "service", "web", "src");
const dist = join(root, "service", "web", "dist");
const lforms = join(root, "node_modules", "lforms", "dist", "lforms");

// cql-exec-fhir and its XML parser (xml2js, sax) were written for Node. In the browser they need
// only what parsing a model-info string in memory uses: an event emitter and setImmediate. The
// file system and streams are never reached (the model info is given as a string, not a path).
/** @type {Record<string, string>} */
const NODE_SHIMS = {
  fs: "module.exports = {};",
  stream: "module.exports = { Stream: function Stream() {} };",
  string_decoder: "module.exports = { StringDecoder: globalThis.TextDecoder };",
  timers: "module.exports = { setImmediate: (run, ...args) => setTimeout(run, 0, ...args) };",
  events: `class EventEmitter {
    on(name, listener) { ((this._listeners ||= {})[name] ||= []).push(listener); return this; }
    addListener(name, listener) { return this.on(name, listener); }
    removeAllListeners(name) { if (name === undefined) this._listeners = {}; else if (this._listeners) delete this._listeners[name]; return this; }
    emit(name, ...args) { const found = this._listeners?.[name]; if (!found?.length) return false; for (const l of [...found]) l.apply(this, args); return true; }
  }
  module.exports = EventEmitter; module.exports.EventEmitter = EventEmitter;`,
};
// The app reads FHIR R4 only: the other model infos (1.7 MB) are left out.
const UNUSED_MODEL_INFO = /modelInfos[\\/]fhir-modelinfo-(1\.0\.2|3\.0\.0|4\.0\.0)\.xml\.js$/;

/** @type {import("esbuild").Plugin} */
const browserShims = {
  name: "browser-shims",
  setup(built) {
    const names = new RegExp(`^(${Object.keys(NODE_SHIMS).join("|")})$`);
    built.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: "node-shim" }));
    built.onLoad({ filter: /.*/, namespace: "node-shim" }, (args) => ({ contents: NODE_SHIMS[args.path], loader: "js" }));
    built.onLoad({ filter: UNUSED_MODEL_INFO }, () => ({
      contents: 'module.exports = "";',
      loader: "js",
    }));
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(src, "app.js"), join(src, "launch.js")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: true,
  outdir: dist,
  plugins: [browserShims],
  logLevel: "warning",
});

for (const page of ["index.html", "launch.html", "app.css"]) {
  cpSync(join(src, page), join(dist, page));
}

// LHC-Forms: the files its README lists for using the web component, and the R4 FHIR support.
const component = join(lforms, "webcomponent");
const target = join(dist, "lforms");
mkdirSync(join(target, "assets", "lib"), { recursive: true });
for (const file of [
  "styles.css",
  "runtime.js",
  "polyfills.js",
  "main.js",
  "down_arrow_gray_10_10.png",
  "magnifying_glass.png",
]) {
  cpSync(join(component, file), join(target, file));
}
cpSync(join(component, "assets", "lib", "zone.min.js"), join(target, "assets", "lib", "zone.min.js"));
cpSync(join(lforms, "fhir", "R4", "lformsFHIR.min.js"), join(target, "lformsFHIR.min.js"));
cpSync(join(lforms, "LICENSE.md"), join(target, "LICENSE.md"));

writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
console.log(`built the SMART app into ${dist}`);
