// "Create your account" on the first run; afterwards the identity in use: its fingerprints,
// the switch between this browser's identities, and the contact link to give to people.
import { el } from "./dom.js";

// "Chrome on Linux": a name for this device people recognise in their device list
export function thisDevice() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) ? "Safari" : "Browser";
  const system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "Mac"
    : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

export function identityView(meshkit, { state, guarded, say, onCreated, onSwitched }) {
  const identitySelect = el("select", { id: "identity-select", testid: "identity-select" });
  const fingerprint = el("code", { class: "fingerprint", testid: "fingerprint" });
  const fingerprintLabel = el("dt", {}, "Fingerprint");
  const deviceFingerprint = el("code", { class: "id", testid: "device-fingerprint" });
  const idText = el("code", { class: "id", testid: "identity-id" });
  const nameInput = el("input", { id: "identity-name", testid: "identity-name", placeholder: "e.g. Alice Martin",
    autocomplete: "name", maxlength: "128", required: true });
  // the device's own name, as the account's device list shows it: not the person's
  const deviceInput = el("input", { id: "device-name", testid: "device-name", autocomplete: "off", maxlength: "128",
    value: thisDevice() });
  const deviceRow = el("span", { class: "row" }, el("label", { for: "device-name" }, "This device"), deviceInput);
  const createLabel = el("label", { for: "identity-name" }, "New identity");
  const createForm = el("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    const made = await guarded("Creating identity", () => meshkit.identity.create(name,
      { deviceName: deviceInput.value.trim() || thisDevice() }));
    if (made) {
      nameInput.value = "";
      say(`Identity “${made.name}” created and published.`);
      await onCreated(made);
    }
  } }, createLabel, nameInput, deviceRow, el("button", { type: "submit", testid: "identity-create" }, "Create"));

  identitySelect.addEventListener("change", () => onSwitched(identitySelect.value));

  const identityFacts = el("div", { testid: "identity-facts" },
    el("div", { class: "row" }, el("label", { for: "identity-select" }, "Acting as"), identitySelect),
    el("dl", { class: "facts" },
      fingerprintLabel, el("dd", {}, fingerprint),
      el("dt", {}, "This device"), el("dd", {}, deviceFingerprint),
      el("dt", {}, "Device id"), el("dd", {}, idText)),
    el("p", { class: "hint" }, "Compare your fingerprint with your contacts over another channel (in person, a " +
      "call) before trusting them; it stays the same on all your devices and after a recovery."));
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
    deviceRow.hidden = any;
  }

  return { card, render };
}
