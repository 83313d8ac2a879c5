// Feedback where the user is: errors and confirmations go right after the control they last
// used (its row, form, list item or table cell), scrolled into view; the alert and the
// notice are live regions, so screen readers announce them wherever they are.
import { el, setText } from "./dom.js";
import { ERRORS } from "../meshkit.js";  // Core's error registry, from the package

export function feedback(root, fallback) {
  const alertBox = el("div", { class: "alert", role: "alert", testid: "error", hidden: true });
  const notice = el("div", { class: "notice", role: "status", "aria-live": "polite", testid: "notice" });
  let lastAction = null;
  for (const type of ["click", "submit", "change"]) {
    root.addEventListener(type, (event) => { if (event.target.closest(".card, dialog")) lastAction = event.target; }, true);
  }
  function placeNearAction(box) {
    // in a dialog: under its title, a place its redraws (a list, a form) never take away
    const dialog = lastAction && lastAction.isConnected && lastAction.closest("dialog[open]");
    if (dialog) {
      dialog.firstElementChild.after(box);
      return box.scrollIntoView({ block: "nearest" });
    }
    // not in a closed dialog or a place the person left: there, it would say nothing to anyone
    const shown = lastAction && lastAction.isConnected && !lastAction.closest(".view[hidden], dialog:not([open])");
    const spot = shown && (lastAction.closest("td, li, form, .row, .drop")
      || lastAction.closest(".card"));  // e.g. the hidden file input the drop zone opened
    if (!spot) return fallback.after(box);
    if (spot.tagName === "TD" || spot.tagName === "LI" || spot.classList.contains("card")) spot.append(box);
    else spot.after(box);
    box.scrollIntoView({ block: "nearest" });
  }
  function showError(error, context) {
    const code = error && error.code;
    // a few codes cover many mistakes: their own message says which one
    const detailed = error.detailed || code === "invalid_argument" || code === "limit_exceeded" ||
      code === "quota_exceeded";
    const sentence = (detailed && error.message) || (ERRORS[code] && ERRORS[code].message) || (error && error.message)
      || String(error);
    alertBox.replaceChildren(el("strong", {}, context ? context + ": " : ""), sentence,
      code ? el("span", { class: "code" }, ` (${code})`) : null,
      el("button", { class: "link", type: "button", "aria-label": "Dismiss", onclick: () => { alertBox.hidden = true; } }, "×"));
    alertBox.dataset.code = code || "";
    alertBox.hidden = false;
    notice.textContent = "";
    placeNearAction(alertBox);
  }
  function say(text) {
    setText(notice, text);
    alertBox.hidden = true;
    placeNearAction(notice);
  }
  // ``background``: a list drawn by itself, not something the person just did: offline, its
  // "unavailable" is what the offline banner already says, so it is not said again
  async function guarded(context, action, { background = false } = {}) {
    try {
      return await action();
    } catch (error) {
      if (!(background && error && error.code === "unavailable" && !navigator.onLine)) showError(error, context);
      return undefined;
    }
  }
  return { alertBox, notice, showError, say, guarded };
}
