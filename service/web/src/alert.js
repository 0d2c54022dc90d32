// @ts-check
// The alert region (role=alert): what went wrong, in words, with the next step. Raised and
// cleared through the store, and drawn from it; each alert names its source, so a success
// clears only the problem it answers.
import { $ } from "./dom.js";
import { store } from "./state.js";

/**
 * @param {string} text
 * @param {string} [source]
 */
export function problem(text, source = "action") {
  store.set({ alert: { text, source } });
  document.body.dataset.state = document.body.dataset.state === "loading" ? "failed" : document.body.dataset.state;
}

/** @param {string} [source] clears only an alert of this source; without it, any */
export function solved(source) {
  const alert = store.get().alert;
  if (alert && (!source || alert.source === source)) store.set({ alert: null });
}

export function showAlerts() {
  store.subscribe((state, changed) => {
    if (!changed.has("alert")) return;
    const box = $("problem");
    box.hidden = !state.alert;
    box.textContent = state.alert?.text || "";
  });
}
