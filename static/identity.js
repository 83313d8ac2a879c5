// "Create your account" on the first run; afterwards the identity in use: its fingerprints,
// the switch between this browser's identities, and the contact link to give to people.
import { el } from "./dom.js";

export function identityView(meshkit, { state, guarded, say, onCreated, onSwitched }) {
  const identitySelect = el("select", { id: "identity-select", testid: "identity-select" });
  const fingerprint = el("code", { class: "fingerprint", testid: "fingerprint" });
  const fingerprintLabel = el("dt", {}, "Fingerprint");
  const deviceFingerprint = el("code", { class: "id", testid: "device-fingerprint" });
  const idText = el("code", { class: "id", testid: "identity-id" });
  const nameInput = el("input", { id: "identity-name", testid: "identity-name", placeholder: "e.g. alice-laptop",
    autocomplete: "off", maxlength: "128", required: true });
  const createLabel = el("label", { for: "identity-name" }, "New identity");
  const createForm = el("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    const made = await guarded("Creating identity", () => meshkit.identity.create(name));
    if (made) {
      nameInput.value = "";
      say(`Identity “${made.name}” created and published.`);
      await onCreated(made);
    }
  } }, createLabel, nameInput, el("button", { type: "submit", testid: "identity-create" }, "Create"));

  identitySelect.addEventListener("change", () => onSwitched(identitySelect.value));

  const recordOut = el("textarea", { class: "record-out", readonly: true, rows: "2", hidden: true, testid: "record-out",
    "aria-label": "My contact link" });
  const copyRecord = el("button", { type: "button", testid: "copy-record", onclick: () => guarded("Copying", async () => {
    const link = await meshkit.identity.contactLink(state.current);
    recordOut.value = link;
    recordOut.hidden = false;
    recordOut.select();
    try {
      await navigator.clipboard.writeText(link);
      say("Contact link copied. Send it to people who should be able to share with you.");
    } catch {
      say("Copy the contact link below and send it to people who should be able to share with you.");
    }
  }) }, "Copy my contact link");

  const identityFacts = el("div", { testid: "identity-facts" },
    el("div", { class: "row" }, el("label", { for: "identity-select" }, "Acting as"), identitySelect),
    el("dl", { class: "facts" },
      fingerprintLabel, el("dd", {}, fingerprint),
      el("dt", {}, "This device"), el("dd", {}, deviceFingerprint),
      el("dt", {}, "Device id"), el("dd", {}, idText)),
    el("p", { class: "hint" }, "Compare your fingerprint with your contacts over another channel (in person, a " +
      "call) before trusting them; it stays the same on all your devices and after a recovery."),
    el("div", { class: "row" }, copyRecord), recordOut);
  const title = el("h2", { id: "who-h" }, "Identity");
  const firstStep = el("p", { class: "lead", testid: "first-step" }, "Start here: choose a name for yourself on " +
    "this device and press Create. You get an account that works on all your devices, and a recovery kit to keep safe.");
  const card = el("section", { class: "card first-step", "aria-labelledby": "who-h" }, title, firstStep, identityFacts, createForm);

  function render(me) {
    const any = state.identities.length > 0;
    identitySelect.replaceChildren(...(any
      ? state.identities.map((i) => el("option", { value: i.name, selected: i.name === state.current }, i.name))
      : [el("option", { value: "" }, "no identity yet")]));
    identitySelect.disabled = !any;
    // the account's fingerprint is the one people check; the device's only tells devices apart
    fingerprintLabel.textContent = me && me.account ? "Account fingerprint" : "Fingerprint";
    fingerprint.textContent = me ? (me.accountFingerprint || me.fingerprint) : "—";
    deviceFingerprint.textContent = me ? me.fingerprint : "—";
    idText.textContent = me ? me.id : "—";
    // the first run shows one step (create, or join an account you have); the rest after
    title.textContent = any ? "Identity" : "Create your account";
    firstStep.hidden = any;
    identityFacts.hidden = !any;
    createLabel.textContent = any ? "New identity" : "Your name";
    copyRecord.disabled = !me;
    recordOut.hidden = true;
  }

  return { card, render };
}
