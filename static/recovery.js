// Settings › Recovery: the two ways back into the account when every device is lost. The
// recovery phrase (its kit confirmed account-wide; replaceable: the old phrase stops
// working) and passkeys (WebAuthn PRF: the passkey unlocks the recovery secret, no words to
// type). A browser without PRF is told so; it is never given a weaker path.
import { el, formatDate, shortId } from "./dom.js";

export function recoveryCard(meshkit, { state, guarded, say, kit }) {
  const status = el("p", { testid: "recovery-state" });
  const renew = el("button", { type: "button", class: "secondary", testid: "new-phrase", onclick: () => guarded(
    "Making a new recovery phrase", async () => {
      if (!confirm("Make a new recovery phrase? Your current phrase (and passkeys made with it) will stop working " +
        "for recovery. Files encrypted before keep opening with your devices.")) return;
      const made = await meshkit.identity.newRecoveryPhrase(state.current);
      const { recoveryPhrase, ...identity } = made;  // the phrase goes to the kit only
      state.identities = state.identities.map((i) => i.name === state.current ? { ...i, ...identity } : i);
      kit.show(state.current, { ...identity, recoveryPhrase });
      say("New recovery phrase made: write it down now. The old one no longer recovers your account.");
      await render();
    }) }, "Make a new recovery phrase");

  const passkeyList = el("ul", { class: "people", testid: "passkeys" });
  const phrase = el("textarea", { id: "passkey-phrase", testid: "passkey-phrase", rows: "3", autocomplete: "off",
    spellcheck: "false", placeholder: "your 24 words, to let the passkey unlock them" });
  const passkeyNote = el("p", { class: "hint", testid: "passkey-support" });
  const addPasskey = el("form", { class: "kit-confirm", testid: "passkey-form", onsubmit: (event) => {
    event.preventDefault();
    return guarded("Adding a passkey", async () => {
      await meshkit.identity.addPasskey(state.current, { phrase: phrase.value });
      phrase.value = "";
      say("Passkey added: on a new device, choose “Recover with a passkey”; no words needed.");
      await render();
    });
  } }, el("label", { for: "passkey-phrase" }, "Your recovery phrase"), phrase,
  el("p", { class: "hint" }, "The passkey keeps your recovery secret locked; the words are used here and never stored."),
  el("div", { class: "row" }, el("button", { type: "submit", testid: "passkey-add" }, "Add a passkey")));

  const card = el("section", { class: "card", "aria-labelledby": "recovery-h", testid: "recovery", hidden: true },
    el("h2", { id: "recovery-h" }, "Recovery"), status, el("div", { class: "row" }, renew),
    el("h3", {}, "Passkeys"), passkeyNote, passkeyList, addPasskey);

  async function render() {
    const me = state.identities.find((i) => i.name === state.current);
    card.hidden = !(me && me.account);
    if (card.hidden) return;
    const report = await meshkit.capabilities().catch(() => ({}));
    const kitState = me.recoveryKit || (report.recovery_kit || {})[state.current];
    status.textContent = kitState === "confirmed" ? "Your recovery kit is confirmed." :
      "Your recovery kit is not confirmed yet: find your 24 words and type them back in “Your recovery kit”.";
    renew.hidden = !meshkit.identity.newRecoveryPhrase;
    const prf = report.passkey_recovery || {};
    const supported = !!meshkit.identity.addPasskey && prf.available !== false;
    passkeyNote.textContent = supported ? "A passkey on your phone or security key can recover your account instead of the words."
      : `Passkey recovery is not available in this browser${prf.detail ? `: ${prf.detail}` : ""}.`;
    addPasskey.hidden = !supported;
    const keys = supported && meshkit.identity.passkeys
      ? await meshkit.identity.passkeys(state.current).catch(() => []) : [];
    passkeyList.replaceChildren(...keys.map((key) => el("li", { testid: "passkey" },
      el("span", {}, "Passkey ", el("code", {}, shortId(key.credentialId || key.id || ""))),
      el("small", {}, key.created ? `added ${formatDate(key.created)}` : ""),
      el("button", { type: "button", class: "danger", testid: "passkey-remove", onclick: () => guarded("Removing the passkey", async () => {
        await meshkit.identity.removePasskey(state.current, key.credentialId || key.id);
        say("Passkey removed: it no longer recovers your account.");
        await render();
      }) }, "Remove"))));
  }

  return { card, render };
}
