// @ts-check
// Codes in the spelling the payer's terminology uses, so a code the EHR writes another way still
// matches (the payer service normalises the same way): system URI aliases, NDC 10-digit forms in
// their 11-digit spelling, ICD-10-CM without the dot and in capitals, HCPCS in capitals.
import aliasFile from "../../terminology/system_aliases.json" with { type: "json" };

/** @type {Record<string, string>} */
const ALIASES = aliasFile.aliases;
const NDC = "http://hl7.org/fhir/sid/ndc";
const ICD = "http://hl7.org/fhir/sid/icd-10-cm";
const HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
// NDC 10-digit segment lengths -> zeros to add to each segment to reach 5-4-2.
/** @type {Record<string, number[]>} */
const NDC_PADDING = { "4,4,2": [1, 0, 0], "5,3,2": [0, 1, 0], "5,4,1": [0, 0, 1], "5,4,2": [0, 0, 0] };

// Values from FHIR data may arrive as cql-exec-fhir primitives ({value: ...}).
const text = (/** @type {unknown} */ v) => (v == null ? "" : String(typeof v === "object" && "value" in v ? v.value : v)).trim();

// "system|code", normalised.
/**
 * @param {unknown} system
 * @param {unknown} code
 */
export function normalisedCode(system, code) {
  const s = ALIASES[text(system)] || text(system);
  let c = text(code);
  if (s === NDC) c = elevenDigitNdc(c);
  else if (s === ICD) c = c.toUpperCase().replaceAll(".", "");
  else if (s === HCPCS) c = c.toUpperCase();
  return `${s}|${c}`;
}

/** @param {string} code */
function elevenDigitNdc(code) {
  const parts = code.split("-");
  const padding = NDC_PADDING[parts.map((p) => p.length).join(",")];
  if (parts.length !== 3 || !padding || !parts.every((p) => /^\d+$/.test(p))) return code;
  return parts.map((p, i) => "0".repeat(padding[i]) + p).join("");
}
