// @ts-check
// The payer's evaluation of the answers on screen ($evaluate), drawn beside the form: the
// outcome, what the policy covers for this patient, and each criterion in the policy's words.
import { showDoseAdvice } from "./dose-advice.js";
import { $, element, number } from "./dom.js";
import { showHeader } from "./header.js";
import { store } from "./state.js";

/**
 * @typedef {object} Evaluation
 * @property {string} outcome
 * @property {Record<string, any>[]} criteria
 * @property {Record<string, any>[]} limits
 * @property {string | undefined} evaluationDate the day the payer evaluated the policy on
 */

/**
 * The $evaluate answer (Parameters) read into an Evaluation.
 * @param {any} body
 * @returns {Evaluation}
 */
export function parameters(body) {
  /** @type {Record<string, any>[]} */
  const list = body?.parameter || [];
  /** @param {Record<string, any>} p */
  const value = (p) => {
    const key = Object.keys(p).find((k) => k.startsWith("value"));
    return key ? p[key] : undefined;
  };
  /** @param {Record<string, any>} p */
  const parts = (p) => Object.fromEntries((p.part || []).map((/** @type {Record<string, any>} */ part) => [part.name, value(part)]));
  return {
    outcome: value(list.find((p) => p.name === "outcome") || {}),
    criteria: list.filter((p) => p.name === "criterion").map(parts),
    // Each limit the policy declares, in its order: {id, kind, criterion, label, unit, value,
    // count, period, length, ordered, basis} (OperationDefinition/QuestionnaireResponse-evaluate).
    limits: list.filter((p) => p.name === "limit").map(parts),
    evaluationDate: value(list.find((p) => p.name === "evaluationDate") || {}),
  };
}

/** @type {Record<string, [string, string]>} */
export const OUTCOME_WORDS = {
  "criteria-met": ["Meets the policy criteria", "good"],
  "criteria-not-met": ["Does not meet the policy criteria", "bad"],
  incomplete: ["Not decided yet: more answers needed", "pending"],
};
// The server's words come with each criterion (`statusDisplay`); these stand in for a payer that
// sends none.
/** @type {Record<string, string>} */
const STATUS_WORDS = { met: "met", "not-met": "not met", unknown: "not known yet" };
/** @type {Record<string, string>} */
const MARKS = { met: "✓", "not-met": "✗", unknown: "…" };

/** @param {any} body */
export function showEvaluation(body) {
  const found = parameters(body);
  const [words, tone] = OUTCOME_WORDS[found.outcome] || ["Its evaluation is not known yet", "pending"];
  const outcome = $("outcome");
  outcome.dataset.outcome = found.outcome;
  outcome.className = `outcome ${tone}`;
  const unmet = found.criteria.filter((c) => c.status === "not-met").map((c) => c.label);
  outcome.innerHTML = "";
  outcome.append(element("h2", words));
  if (unmet.length) outcome.append(element("p", `Not met: ${unmet.join("; ")}.`));

  showLimits(found);
  showDoseAdvice($("dose"), found);
  if (found.evaluationDate && found.evaluationDate !== store.get().evaluationDate) {
    store.set({ evaluationDate: found.evaluationDate });
    showHeader(); // the patient's age on that day
  }

  const list = $("criteria");
  list.innerHTML = "";
  for (const criterion of found.criteria) {
    const item = document.createElement("li");
    item.dataset.criterion = criterion.id;
    item.dataset.status = criterion.status;
    // A yes/no criterion that does not apply (its value is false), or one the policy is met
    // without (unknown while the outcome is already met), is neither a tick nor a gap.
    const negative = criterion.value === false;
    const unneeded = criterion.status === "unknown" && found.outcome === "criteria-met";
    item.className = negative || unneeded ? "neutral" : criterion.status;
    const mark = element("span", negative || unneeded ? "–" : MARKS[criterion.status], "mark");
    const shown = shownValue(criterion);
    const state = unneeded ? "not needed" : criterion.statusDisplay || STATUS_WORDS[criterion.status];
    item.append(mark, element("span", `${criterion.label}${shown ? `: ${shown}` : ""}`), element("span", state, "state"));
    // The record disagrees with itself here: the payer says what to check, as its card does.
    if (criterion.flag) {
      item.dataset.flag = "true";
      item.append(element("p", `Flag: ${criterion.flag}`, "flag"));
    }
    list.append(item);
  }
}

// What the policy covers for this patient, limit by limit, in the policy's own words; the first
// quantity limit known leads (`.limit`, with its value in data-limit).
/** @param {Evaluation} found */
function showLimits(found) {
  const box = $("dose");
  box.innerHTML = "";
  box.append(element("h2", "What the policy covers for this patient"));
  let lead = false;
  const bases = new Set();
  for (const limit of found.limits) {
    const text = limitText(limit);
    if (!text) continue;
    const line = element("p", text, lead || limit.kind !== "quantity" ? "muted" : "");
    line.dataset.limitId = limit.id;
    if (!lead && limit.kind === "quantity") {
      lead = true;
      line.className = "limit";
      line.dataset.limit = String(limit.value.value);
    }
    box.append(line);
    if (limit.kind === "quantity" && limit.basis && !bases.has(limit.basis)) {
      bases.add(limit.basis);
      box.append(element("p", limit.basis, "muted"));
    }
  }
  if (lead) return;
  // No quantity limit known yet: the policy's own reason when it gives one (a quantity limit
  // without a value whose basis says why).
  const reason = found.limits.find((l) => l.kind === "quantity" && !l.value && l.basis)?.basis;
  box.append(element("p", reason ? `Not known yet: ${reason}.` : "Answer the open questions to see the limit."));
}

/** @param {Record<string, any>} limit */
function limitText(limit) {
  const label = limit.label.charAt(0).toUpperCase() + limit.label.slice(1);
  if (limit.kind === "quantity" && limit.value) return `${label}: up to ${limit.display || `${number(limit.value.value)} ${limit.unit}`}.`;
  if (limit.kind === "count" && limit.count !== undefined) return `${label}: up to ${limit.count}.`;
  if (limit.kind === "period" && limit.period) return `${label}: ${limit.period.start} to ${limit.period.end}.`;
  if (limit.kind === "period" && limit.length) {
    const years = limit.length.value;
    return `${label}: ${years} year${years > 1 ? "s" : ""} from its start.`;
  }
  return null;
}

/** @param {string} text */
export function showEvaluationProblem(text) {
  const outcome = $("outcome");
  outcome.dataset.outcome = "error";
  outcome.className = "outcome pending";
  outcome.innerHTML = "";
  outcome.append(element("h2", "Check the highlighted answer"), element("p", text));
}

// A criterion's value in the payer's words (its `display`); a yes/no says its answer in the
// status instead.
/** @param {Record<string, any>} criterion */
function shownValue(criterion) {
  if (typeof criterion.value === "boolean") return "";
  return criterion.display || "";
}
