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
      `To recover: open MeshKit at ${location.origin} on a new device, choose “Already have an account?”, ` +
      "then “Recover with my recovery phrase”, and type these words.\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
      download: "meshkit-recovery-kit.txt" });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } }, "Download the kit");

  // the words leave the screen as soon as they are on paper: nobody reads them over a shoulder
  const print = el("button", { type: "button", class: "secondary", testid: "kit-print", onclick: () => window.print() },
    "Print the kit");
  const wrote = el("button", { type: "button", class: "secondary", testid: "kit-wrote", onclick: () => {
    words.replaceChildren();
    phrase = null;
    download.hidden = print.hidden = wrote.hidden = warning.hidden = steps.hidden = true;
    facts.textContent = "The words are hidden now. To make sure you have them, type them back below.";
    retype.focus();
  } }, "I wrote them down");

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

  // a reminder stays one line until the person is ready to type the words
  const start = el("button", { type: "button", class: "secondary", testid: "kit-start", hidden: true, onclick: () => {
    start.hidden = true;
    confirm.hidden = false;
    retype.focus();
  } }, "Type my words now");
  // what a person reads on the printed page, months later
  const steps = el("ol", {}, el("li", {}, `Open MeshKit at ${location.origin} on a new device.`),
    el("li", {}, "Choose “Already have an account?”, then “Recover with my recovery phrase”."),
    el("li", {}, "Type these 24 words in order. Then remove your lost devices under Settings."));
  const warning = el("strong", {}, "Write them down or download the kit now: MeshKit does not keep them and " +
    "cannot show them again.");
  const card = el("section", { class: "card wide kit first-step", "aria-labelledby": "kit-h", hidden: true, testid: "kit",
    role: "region" },
    el("h2", { id: "kit-h" }, "Your recovery kit"),
    el("p", {}, "These 24 words are the only way back into your account if you lose every device. ", warning),
    facts, el("div", { class: "kit-steps", testid: "kit-steps" }, steps), words,
    el("div", { class: "row" }, download, print, wrote, start), confirm);

  return {
    card,
    // right after identity.create: the phrase, this once
    show(name, made) {
      current = { name, account: made.account, fingerprint: made.accountFingerprint };
      phrase = made.recoveryPhrase;
      facts.textContent = `Account ${current.account} · account fingerprint ${current.fingerprint}`;
      warning.hidden = false;
      words.replaceChildren(...phrase.split(" ").map((word) => el("li", {}, word)));
      download.hidden = print.hidden = wrote.hidden = steps.hidden = confirm.hidden = false;
      start.hidden = true;
      card.hidden = false;
      card.scrollIntoView({ block: "start" });
      card.querySelector("h2").tabIndex = -1;
      card.querySelector("h2").focus({ preventScroll: true });  // screen readers land on the kit
    },
    // later visits: the kit exists only on paper now; ask for it back until confirmed
    remind(name, state) {
      if (state !== "not confirmed" || phrase) { if (!phrase) card.hidden = true; return; }
      current = { name, account: "", fingerprint: "" };
      facts.textContent = "You have not confirmed your recovery kit yet: find the 24 words you wrote down and type " +
        "them back. Lost them? Make a new phrase under Settings › Recovery.";
      words.replaceChildren();
      download.hidden = print.hidden = wrote.hidden = steps.hidden = true;
      warning.hidden = true;
      if (card.hidden) { confirm.hidden = true; start.hidden = false; }  // not while the person is typing
      card.hidden = false;
    },
  };
}
