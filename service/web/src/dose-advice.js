// @ts-check
// What to do about a dose over the policy's limit: by how much the order is over, and the change
// to make in the order (the CRD card carries the same suggestion). Shown only for a limit whose
// criterion the payer's evaluation says is not met: the decision is the policy's (CQL), this
// module only says the difference in words.

/** @typedef {import("./criteria.js").Evaluation} Evaluation */

const rounded = (/** @type {unknown} */ value) => Math.round(Number(value) * 10) / 10;
const shown = (/** @type {unknown} */ value) => rounded(value).toLocaleString("en-US", { maximumFractionDigits: 1 });

// [{limit, ordered, over}] for each quantity limit the order exceeds and the policy finds not met.
/** @param {Evaluation} found */
export function overLimits(found) {
  const notMet = new Set(found.criteria.filter((c) => c.status === "not-met").map((c) => c.id));
  return found.limits
    .filter((l) => l.kind === "quantity" && l.value && l.ordered && notMet.has(l.criterion))
    .map((l) => ({ limit: l, ordered: l.ordered.value, over: rounded(l.ordered.value - l.value.value) }))
    .filter((o) => o.over > 0);
}

// The advice in `box` (the dose panel), or nothing when the order is within its limits.
/**
 * @param {HTMLElement} box
 * @param {Evaluation} found
 */
export function showDoseAdvice(box, found) {
  box.querySelector("#dose-advice")?.remove();
  const over = overLimits(found);
  if (!over.length) return;
  const advice = document.createElement("div");
  advice.id = "dose-advice";
  advice.className = "advice";
  for (const { limit, ordered, over: by } of over) {
    const line = document.createElement("p");
    line.className = "over";
    line.dataset.over = String(by);
    line.textContent = `Ordered ${shown(ordered)} ${limit.unit}; the policy covers up to ${shown(limit.value.value)} ${limit.unit} for this patient: ${shown(by)} ${limit.unit} over.`;
    advice.append(line);
  }
  const first = over[0];
  const change = document.createElement("p");
  change.className = "change";
  change.textContent = `Change the dose in the order: in the EHR, set it to at most ${shown(first.limit.value.value)} ${first.limit.unit} and sign it again, then open this form from the changed order. Submitting this dose sends a request the policy does not cover.`;
  advice.append(change);
  box.prepend(advice);
}
