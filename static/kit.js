// The recovery kit: shown once when an account is created, then a polite reminder until
// the user confirms it by typing the phrase back. The phrase is never stored: once this
// panel is closed or the page reloaded, it is gone from the app.
export function recoveryKit(meshkit, { el, guarded, say, onConfirmed }) {
  const words = el("ol", { class: "phrase", testid: "kit-phrase" });
  const facts = el("p", { class: "hint", testid: "kit-facts" });
  const retype = el("textarea", { id: "kit-retype", rows: "3", autocomplete: "off", spellcheck: "false",
    testid: "kit-retype", placeholder: "Type the 24 words from your kit" });
  let current = null;
  let phrase = null;

  const download = el("button", { type: "button", testid: "kit-download", onclick: () => {
    if (!phrase) return;
    const text = `MeshKit recovery kit\n\nAccount: ${current.account}\nFingerprint: ${current.fingerprint}\n\n` +
      `Recovery phrase:\n${phrase}\n\nKeep this offline and safe. With it, anyone can open everything shared ` +
      "with this account. Without it, losing every device loses everything.\n" +
      "To recover: open MeshKit on a new device, choose Recover, and type these words.\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
      download: "meshkit-recovery-kit.txt" });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } }, "Download the kit");

  const confirm = el("form", { class: "kit-confirm", onsubmit: async (event) => {
    event.preventDefault();
    const done = await guarded("Checking the phrase", () => meshkit.identity.confirmRecoveryKit(current.name,
      retype.value));
    if (done) {
      retype.value = "";
      phrase = null;
      words.replaceChildren();
      card.hidden = true;
      say("Recovery kit confirmed. Keep it somewhere safe, away from this device.");
      onConfirmed && onConfirmed();
    }
  } }, el("label", { for: "kit-retype" }, "To confirm you saved it, type the phrase back:"), retype,
    el("button", { type: "submit", testid: "kit-confirm" }, "Confirm"));

  const warning = el("strong", {}, "Write them down or download the kit now: MeshKit does not keep them and " +
    "cannot show them again.");
  const card = el("section", { class: "card wide kit first-step", "aria-labelledby": "kit-h", hidden: true, testid: "kit" },
    el("h2", { id: "kit-h" }, "Your recovery kit"),
    el("p", {}, "These 24 words are the only way back into your account if you lose every device. ", warning),
    facts, words, el("div", { class: "row" }, download), confirm);

  return {
    card,
    // right after identity.create: the phrase, this once
    show(name, made) {
      current = { name, account: made.account, fingerprint: made.accountFingerprint };
      phrase = made.recoveryPhrase;
      facts.textContent = `Account ${current.account} · account fingerprint ${current.fingerprint}`;
      warning.hidden = false;
      words.replaceChildren(...phrase.split(" ").map((word) => el("li", {}, word)));
      download.hidden = false;
      card.hidden = false;
      card.scrollIntoView({ block: "start" });
    },
    // later visits: the kit exists only on paper now; ask for it back until confirmed
    remind(name, state) {
      if (state !== "not confirmed" || phrase) { if (!phrase) card.hidden = true; return; }
      current = { name, account: "", fingerprint: "" };
      facts.textContent = "You have not confirmed your recovery kit yet. Find the words you wrote down and type " +
        "them below; if you lost them, keep this device safe until you have added a second one.";
      words.replaceChildren();
      download.hidden = true;
      warning.hidden = true;
      card.hidden = false;
    },
  };
}
