// @ts-check
// The banner: the patient, what the order asks for, and the form's title.
import { $, number } from "./dom.js";
import { ageText } from "./patient-age.js";
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */

export function showHeader() {
  const session = store.get();
  const p = /** @type {Resource} */ (session.patient);
  const name = p.name?.[0];
  const shown = name ? [name.given?.join(" "), name.family].filter(Boolean).join(" ") : `Patient ${p.id}`;
  const age = ageText(p.birthDate, session.evaluationDate);
  $("patient").textContent = `${shown} · born ${p.birthDate || "unknown"}${age ? ` (${age})` : ""} · ${p.gender || ""}`;
  const order = /** @type {Resource} */ (session.order);
  $("order").textContent = `${orderedThing(order)}: ${orderedAmount(order)}`;
}

// What the order asks for, in its own words (the code's text or a display), else as the payer's
// ValueSets name its code, once the package has come.
/** @param {Resource} order */
function orderedThing(order) {
  const concept = order.medicationCodeableConcept || order.code || order.codeCodeableConcept || {};
  /** @type {Resource[]} */
  const codings = concept.coding || [];
  const displays = store.get().displays;
  const named = codings.find((c) => c.display)?.display || codings.map((c) => displays?.get(c.code)).find(Boolean);
  return concept.text || named || "The order";
}

/** @param {Resource} order */
function orderedAmount(order) {
  const dosage = order.dosageInstruction?.[0]?.text;
  if (dosage) return dosage;
  const quantity = order.quantityQuantity;
  if (quantity?.value !== undefined) return `${number(quantity.value)} ${quantity.unit || quantity.code || ""}`.trim();
  return "no amount given on the order";
}

// The form's title, once the payer's Questionnaire is known.
/** @param {Resource} questionnaire */
export function showTitle(questionnaire) {
  const title = questionnaire.title || questionnaire.name;
  if (!title) return;
  $("title").textContent = title;
  document.title = title;
}
