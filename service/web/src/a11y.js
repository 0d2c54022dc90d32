// @ts-check
// Accessibility repairs to what LHC-Forms renders, made from our side after each render (its
// DOM changes as questions are shown and hidden):
// - a help button's aria-controls names the help text only while that is on the page: a
//   reference to nothing is removed (WCAG 4.1.2; axe "aria-valid-attr-value");
// - a choice list takes typed text: Enter picks the option whose words start with what was
//   typed ("neg" picks "Philadelphia chromosome negative (Ph-)"), not the list's first option.

const SEARCH_RESULTS = "#lhc-tools-searchResults li";

/** @param {HTMLElement} form */
export function repairForm(form) {
  const repair = () => {
    for (const element of form.querySelectorAll("[aria-controls]")) {
      const ids = (element.getAttribute("aria-controls") || "").split(/\s+/).filter(Boolean);
      if (!ids.every((id) => document.getElementById(id))) element.removeAttribute("aria-controls");
    }
  };
  repair();
  new MutationObserver(repair).observe(form, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-controls"] });
  form.addEventListener("keydown", (event) => pickTyped(event), true);
}

/** @param {KeyboardEvent} event */
function pickTyped(event) {
  const input = event.target;
  if (event.key !== "Enter" || !(input instanceof HTMLInputElement) || !input.value.trim()) return;
  const options = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(SEARCH_RESULTS))].filter((li) => li.offsetParent !== null);
  if (!options.length) return;
  const highlighted = options.find((li) => li.classList.contains("selected"));
  if (highlighted) return; // chosen with the arrow keys: the list's own choice stands
  const typed = input.value.trim().toLowerCase();
  // An option's words, without the list's "1: " numbering.
  const words = (/** @type {HTMLElement} */ li) => (li.textContent || "").replace(/^\s*\d+:\s*/, "").toLowerCase();
  const starts = (/** @type {HTMLElement} */ li) => words(li).split(/[^a-z0-9+-]+/).some((word) => word.startsWith(typed));
  const match = options.find((li) => words(li).startsWith(typed)) || options.find(starts);
  if (!match) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  // The list takes a pick on the mouse's press, as a person's click gives it.
  for (const type of ["mousedown", "mouseup", "click"]) {
    match.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
  }
}
