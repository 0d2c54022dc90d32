// @ts-check
// The rendered form's rows: LHC-Forms renders each question as a `.lhc-de` row whose label is
// `for` the input's id, `<linkId>/<repeat path>`. Which question a row is, which are visible,
// where each answer came from (a badge on its row), and moving to a question.
import { INFORMATION_ORIGIN } from "./responses.js";
import { store } from "./state.js";

/** @typedef {import("./state.js").Resource} Resource */

// ---------------------------------------------------------------- what the record gave

// The badge goes on each question's row so the prescriber sees where each answer came from.
/** @param {Resource} qr */
export function markOrigins(qr) {
  /** @type {Map<string, string>} */
  const origins = new Map();
  /** @param {Resource[] | undefined} items */
  const walk = (items) => {
    for (const item of items || []) {
      for (const answer of item.answer || []) {
        const origin = (answer.extension || [])
          .find((/** @type {Resource} */ e) => e.url === INFORMATION_ORIGIN)
          ?.extension?.find((/** @type {Resource} */ e) => e.url === "source")?.valueCode;
        if (origin) origins.set(item.linkId, origin);
      }
      walk(item.item);
    }
  };
  walk(qr.item);
  for (const row of document.querySelectorAll("#form [data-link-id], #form .lhc-de")) {
    const linkId = rowLinkId(row);
    if (!linkId) continue;
    const origin = origins.get(linkId);
    row.classList.toggle("origin-auto", origin === "auto");
    row.classList.toggle("origin-override", origin === "override");
    /** @type {HTMLElement} */ (row).dataset.origin = origin || "";
  }
}

/** @param {Element} row */
export function rowLinkId(row) {
  const target = row.querySelector("label[for]")?.getAttribute("for") || "";
  const linkId = target.split("/")[0];
  return store.get().questionnaireLinkIds?.has(linkId) ? linkId : null;
}

/**
 * @param {Resource[] | undefined} items
 * @returns {Set<string>}
 */
export function linkIds(items, found = new Set()) {
  for (const item of items || []) {
    found.add(item.linkId);
    linkIds(item.item, found);
  }
  return found;
}

export function visibleLinkIds() {
  const found = new Set();
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    const linkId = rowLinkId(row);
    if (linkId && /** @type {HTMLElement} */ (row).offsetParent !== null) found.add(linkId);
  }
  return found;
}

/** @param {string} linkId */
export function focusQuestion(linkId) {
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    if (rowLinkId(row) === linkId) {
      row.scrollIntoView({ block: "center" });
      /** @type {HTMLElement | null} */ (row.querySelector("input, textarea, select"))?.focus();
      return;
    }
  }
}
