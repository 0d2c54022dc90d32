// @ts-check
// Small DOM helpers every view uses: an element by id, a new element with its text, and numbers
// and instants in the prescriber's words.

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} tag
 * @param {string} text
 * @param {string} [className]
 */
export function element(tag, text, className) {
  const made = document.createElement(tag);
  made.textContent = text;
  if (className) made.className = className;
  return made;
}

// A list of lines, each its own item.
/** @param {Iterable<string>} lines */
export function listOf(lines) {
  const made = document.createElement("ul");
  for (const line of lines) made.append(element("li", line));
  return made;
}

/** @param {unknown} value */
export function number(value) {
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** @param {string | undefined | null} instant */
export function when(instant) {
  if (!instant) return "";
  return new Date(instant).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}
