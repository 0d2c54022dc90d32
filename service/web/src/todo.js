// @ts-check
// The questions still to answer, listed above the form (each a link to its question) and
// marked on their rows.
import { $, element } from "./dom.js";
import { focusQuestion, rowLinkId, visibleLinkIds } from "./form-rows.js";
import { answerValues, missingRequired } from "./responses.js";
import { store } from "./state.js";

// The questions still to answer in `qr` (the response as the form holds it now).
/** @param {import("./state.js").Resource} qr */
export function showTodo(qr) {
  const missing = missingRequired(store.get().questionnaire, answerValues(qr), visibleLinkIds());
  const todo = $("todo");
  todo.innerHTML = "";
  todo.dataset.missing = String(missing.length);
  if (!missing.length) {
    todo.className = "todo complete";
    todo.append(element("p", "Every required question is answered. Check the values from the record, then submit."));
    return;
  }
  todo.className = "todo";
  todo.append(element("h2", `${missing.length} question${missing.length > 1 ? "s need" : " needs"} your answer`));
  const list = document.createElement("ul");
  for (const item of missing) {
    const entry = document.createElement("li");
    const link = /** @type {HTMLAnchorElement} */ (element("a", item.text));
    link.href = "#";
    link.dataset.linkId = item.linkId;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      focusQuestion(item.linkId);
    });
    entry.append(link);
    list.append(entry);
  }
  todo.append(list);
  for (const row of document.querySelectorAll("#form .lhc-de")) {
    row.classList.toggle("needs-answer", missing.some((/** @type {{ linkId: string }} */ m) => m.linkId === rowLinkId(row)));
  }
}
