// "What this browser provides" (the capability report, folded away from the first view) and
// "Copy diagnostics": a redacted support bundle, shown before it is copied so the user
// sees what they would send.
import { el } from "./dom.js";

export function settingsView(meshkit, { state, guarded, say, kit }) {
  const caps = el("dl", { class: "facts caps", testid: "capabilities" });
  const bundleOut = el("textarea", { class: "record-out", readonly: true, rows: "8", hidden: true, testid: "diagnostics",
    "aria-label": "Diagnostics (redacted)" });
  const copy = el("button", { type: "button", testid: "copy-diagnostics", onclick: () => guarded("Collecting diagnostics", async () => {
    const text = JSON.stringify(await meshkit.diagnostics(), null, 1);
    bundleOut.value = text;
    bundleOut.hidden = false;
    try {
      await navigator.clipboard.writeText(text);
      say("Diagnostics copied: versions, what this browser provides, upload states and recent messages. " +
        "No keys, tokens, recovery phrase or file names are in it.");
    } catch {
      say("Copy the diagnostics below: no keys, tokens, recovery phrase or file names are in them.");
    }
  }) }, "Copy diagnostics");
  const card = el("section", { class: "card wide", "aria-labelledby": "caps-h" },
    el("details", { class: "caps-details" }, el("summary", {}, el("h2", { id: "caps-h" }, "What this browser provides")),
      caps, el("div", { class: "row" }, copy), bundleOut));

  async function render() {
    const report = await guarded("Reading capabilities", () => meshkit.capabilities(), { background: true });
    if (!report) return;
    const rows = [
      ["Keys", report.key_storage.mode, report.key_storage.detail, report.key_storage.mode !== "non-extractable"],
      ["Storage", report.persistence.mode, report.persistence.detail, report.persistence.mode !== "indexeddb"],
      ["Background work", report.background.mode, report.background.detail, report.background.mode !== "service-worker"],
      ["Streaming", report.streaming.mode, report.streaming.detail, false],
      ["Crypto", report.crypto.backend, report.crypto.algorithms.join(", "), false],
      ["Runtime", report.runtime, "", false],
      ["Kept by the browser", report.storage.persistent ? "persistent" : "may be evicted", report.storage.detail,
        !report.storage.persistent],
    ];
    const kitState = (report.recovery_kit || {})[state.current];
    if (kitState) {
      rows.push(["Recovery kit", kitState, kitState === "confirmed" ? "you have your 24 words" :
        kitState === "no account" ? "this identity has no account (created offline): it lives on this device only"
          : "not confirmed yet: see “Your recovery kit”", kitState !== "confirmed"]);
      kit.remind(state.current, kitState);
    }
    caps.replaceChildren(...rows.flatMap(([label, mode, detail, weak]) => [
      el("dt", {}, label),
      el("dd", { class: weak ? "weak" : "", "data-cap": label.toLowerCase().replace(/ /g, "-") },
        el("span", { class: "badge" + (weak ? " warn" : "") }, weak ? "⚠ " + mode : mode), detail ? " " + detail : ""),
    ]));
  }

  return { card, render };
}
