// Builds the SMART app the service serves at /dtr/ into service/web/dist/:
// our modules bundled with fhirclient by esbuild, plus LHC-Forms' prebuilt web component and its
// FHIR R4 support file copied from node_modules. Everything is served by the service itself:
// no CDN at run time.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "service", "web", "src");
const dist = join(root, "service", "web", "dist");
const lforms = join(root, "node_modules", "lforms", "dist", "lforms");

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(src, "app.js"), join(src, "launch.js")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  outdir: dist,
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
