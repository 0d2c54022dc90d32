// @ts-check
// Submit asks first when the form shows a criterion not met: the prescriber sees which, and
// either goes back to change the order or answers, or submits knowingly (the reviewer decides).

import { element, listOf } from "./dom.js";

// true when the prescriber wants to submit (nothing is shown not met, or they confirmed).
/** @returns {Promise<boolean>} */
export function confirmSubmit() {
  const unmet = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('#criteria li[data-status="not-met"]'))].map(
    (li) => li.querySelector("span:not(.mark):not(.state)")?.textContent || li.dataset.criterion || "",
  );
  if (!unmet.length) return Promise.resolve(true);
  const dialog = document.createElement("dialog");
  dialog.id = "confirm-submit";
  dialog.setAttribute("aria-labelledby", "confirm-title");
  const title = element("h2", "Submit a request that does not meet the policy?");
  title.id = "confirm-title";
  const said = element("p", "The form shows these criteria not met. The payer's review will likely deny the request as it stands:");
  const list = listOf(unmet);
  const back = button("Go back and change it", "secondary", "confirm-back");
  const send = button("Submit anyway", "primary", "confirm-send");
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.append(back, send);
  dialog.append(title, said, list, actions);
  document.body.append(dialog);
  return new Promise((resolve) => {
    const close = (/** @type {boolean} */ answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    back.addEventListener("click", () => close(false));
    send.addEventListener("click", () => close(true));
    dialog.addEventListener("cancel", () => close(false));
    dialog.showModal();
    back.focus();
  });
}

/**
 * @param {string} text
 * @param {string} className
 * @param {string} id
 */
function button(text, className, id) {
  const made = /** @type {HTMLButtonElement} */ (element("button", text, className));
  made.type = "button";
  made.id = id;
  return made;
}
