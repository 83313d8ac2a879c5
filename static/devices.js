// Accounts in the app: the account and its devices (list, remove, approve a new one), and,
// for a browser that is not part of the account yet, the two ways in: link it from a device
// that is (a link or QR code plus a comparison code), or recover with the recovery phrase.
// Every piece of text from a record goes through textContent (el()).

import { takeLink } from "./link.js";
import { shown } from "../meshkit.js";

const LINK_PARAM = "link";

// A QR code drawn from its modules (rows of "0"/"1") on a canvas: no image formats parsed.
function drawQr(canvas, rows, scale = 5) {
  const size = rows.length * scale;
  canvas.width = canvas.height = size;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, size, size);
  g.fillStyle = "#000";
  rows.forEach((row, y) => [...row].forEach((cell, x) => {
    if (cell === "1") g.fillRect(x * scale, y * scale, scale, scale);
  }));
}

// what the user pasted: the new device's URL (…#link=<link>) or the bare link
function linkFrom(text) {
  const value = text.trim();
  const at = value.indexOf("#" + LINK_PARAM + "=");
  if (at < 0) return value;
  try { return decodeURIComponent(value.slice(at + LINK_PARAM.length + 2)); } catch { return value; }
}

export function linkUrl(link) {
  return location.origin + location.pathname + "#" + LINK_PARAM + "=" + encodeURIComponent(link);
}

// --- the account of the identity in use: its devices, and approving a new one ------------
export function accountCard(meshkit, { el, guarded, say, formatDate, shortId, onChange }) {
  let current = null;  // {name, id, account, accountFingerprint}
  const facts = el("dl", { class: "facts", testid: "account-facts" });
  const list = el("ul", { class: "devices", testid: "devices" });
  const linkInput = el("input", { id: "approve-link", testid: "approve-link", autocomplete: "off",
    placeholder: "e.g. KWX5R-ZH1PK, or its link", spellcheck: "false" });
  const status = el("p", { class: "hint", role: "status", testid: "approve-status" });
  const shownCode = el("strong", { class: "link-code", testid: "approve-code" });
  const codeBox = el("p", { class: "code-box", hidden: true }, "Type this code on the new device:", el("br"), shownCode);
  const approveButton = el("button", { type: "submit", testid: "approve" }, "Add this device");
  const approveForm = el("form", { class: "approve", onsubmit: async (event) => {
    event.preventDefault();
    if (!current) return;
    approveButton.disabled = true;
    status.textContent = "Waiting for the new device… keep it open.";
    const done = await guarded("Adding the device", () => meshkit.devices.approve(current.name,
      linkFrom(linkInput.value), { onCode: (code) => {
        shownCode.textContent = code;
        codeBox.hidden = false;
        status.textContent = "Waiting for the code to be typed on the new device…";
        say("Type the code shown here on the new device.");
      } }));
    approveButton.disabled = false;
    status.textContent = "";
    codeBox.hidden = true;
    if (done) {
      linkInput.value = "";
      say(`“${done.device.name}” is now a device of your account. It can open everything your account can.`);
      await render(current);
    }
  } },
  el("h3", {}, "Add a device"),
  el("p", { class: "hint" }, "On the new device, open MeshKit and choose “Link this browser”. Type the short " +
    "code it shows here (or open its link, or scan its QR code with this device), press “Add this device”, then " +
    "type the 6-digit number shown here on the new device. Only add a device you hold in your hands."),
  el("div", { class: "row" }, el("label", { for: "approve-link" }, "Code"), linkInput, approveButton),
  codeBox, status);

  const card = el("section", { class: "card", "aria-labelledby": "account-h", testid: "account", hidden: true },
    el("h2", { id: "account-h" }, "Account and devices"),
    el("p", { class: "hint" }, "Your account is the same on every device. People check its fingerprint once; " +
      "everything shared with your account reaches all of its devices."),
    facts, el("h3", {}, "Devices"), list, approveForm,
    el("p", { class: "hint" }, "Removing a lost device: new files and shares no longer reach it and the gateway " +
      "refuses it. It cannot give back what it already downloaded."));

  function remove(device) {
    return guarded(`Removing ${device.name}`, async () => {
      if (!confirm(`Remove “${shown(device.name)}” from your account? It will not receive anything new, and cannot come back.`)) return;
      await meshkit.devices.remove(current.name, device.id);
      say(`“${device.name}” was removed. New envelopes and shares no longer reach it.`);
      await render(current);
      onChange && onChange();
    });
  }

  async function render(me) {
    current = me && me.account ? me : null;
    card.hidden = !current;
    if (!current) return;
    facts.replaceChildren(
      el("dt", {}, "Account fingerprint"), el("dd", {}, el("code", { class: "fingerprint", testid: "account-fingerprint" },
        current.accountFingerprint)),
      el("dt", {}, "Account id"), el("dd", {}, el("code", { testid: "account-id" }, current.account)));
    const devices = await guarded("Listing devices", () => meshkit.devices.list(current.name), { background: true }) || [];
    list.replaceChildren(...devices.map((device) => el("li", { testid: "device", "data-id": device.id },
      el("div", {}, el("strong", {}, device.name), device.current ? el("span", { class: "badge" }, " this device") : null,
        device.new ? el("span", { class: "badge warn", testid: "device-new",
          title: "Added since you last looked. If you did not add it, remove it." }, " new") : null),
      el("small", {}, `added ${formatDate(device.added)} by ${device.addedByName} · `,
        el("code", { title: device.id }, shortId(device.id))),
      device.current ? null : el("button", { type: "button", class: "danger", testid: "device-remove",
        onclick: () => remove(device) }, "Remove"))));
  }

  // a link opened on this device (#link=…): prefill the form, ask for the code
  function offer() {
    const fragment = takeLink(LINK_PARAM);  // link.js took it out of the address bar first
    const link = fragment && new URLSearchParams(fragment).get(LINK_PARAM);
    if (!link) return false;
    linkInput.value = link;
    say("A new device asks to join your account: press “Add this device”, then type the code shown here on it.");
    if (!card.hidden) approveButton.focus();
    return true;
  }

  return { card, render, offer };
}

// --- a browser that is not part of the account yet: link it, or recover ------------------
export function joinCard(meshkit, { el, guarded, say, onJoined }) {
  const deviceName = el("input", { id: "join-name", testid: "join-name", autocomplete: "off", maxlength: "128",
    placeholder: "e.g. alice-phone" });
  const phrase = el("textarea", { id: "recover-phrase", testid: "recover-phrase", rows: "5", autocomplete: "off",
    spellcheck: "false", placeholder: "the 24 words of your recovery kit, in order" });
  const linkShown = el("div", { class: "link-shown", testid: "link-shown", hidden: true });
  const canvas = el("canvas", { class: "qr", testid: "link-qr", role: "img",
    "aria-label": "QR code of this device's link" });
  const linkText = el("input", { readonly: true, testid: "link-url", "aria-label": "This device's link" });
  // the approving device shows a code; typing it here picks the offer it made (and no other)
  const codeInput = el("input", { id: "link-code-input", testid: "link-code-input", autocomplete: "off",
    inputmode: "numeric", placeholder: "123 456", maxlength: "7", size: "8" });
  const asker = el("p", { class: "hint", testid: "link-asker" });
  const codeButton = el("button", { type: "submit", testid: "link-code-submit" }, "Join");
  const codeForm = el("form", { class: "code-form", testid: "link-code-form", hidden: true },
    asker, el("div", { class: "row" }, el("label", { for: "link-code-input" }, "Code on your other device"),
      codeInput, codeButton));
  let busy = false;

  function named() {
    const name = deviceName.value.trim();
    if (!name) {
      deviceName.focus();
      throw { code: "invalid_argument", message: "first give this device a name" };
    }
    return name;
  }

  // resolves with the code the user types, once a device of an account has answered
  function askCode(offers) {
    asker.textContent = offers.map((o) => `Account “${shown(o.name)}” (fingerprint ${o.fingerprint}) asks to add ` +
      `this browser from its device “${shown(o.approverName)}”.`).join(" ");
    codeForm.hidden = false;
    waiting.hidden = true;  // the link has done its part: the code is what matters now
    codeInput.focus();
    say("Your other device shows a 6-digit code: type it here. If it shows none, do not type any code.");
    return new Promise((resolve) => {
      codeForm.onsubmit = (event) => {
        event.preventDefault();
        codeForm.hidden = true;
        resolve(codeInput.value);
        codeInput.value = "";
      };
    });
  }

  const linkButton = el("button", { type: "button", testid: "join-link", onclick: () => guarded("Linking", async () => {
    if (busy) return;
    const name = named();
    busy = true;
    try {
      const request = await meshkit.devices.requestLink({ deviceName: name });
      const url = linkUrl(request.link);
      linkText.value = url;
      shortCode.textContent = request.code || "";
      drawQr(canvas, await meshkit.qr(url));
      linkShown.hidden = false;
      waiting.hidden = false;
      say("On a device of your account, open Settings › Add a device and type the code shown here " +
        "(or open the link, or scan the QR code).");
      const joined = await meshkit.devices.waitForLink(request.link, { askCode });
      linkShown.hidden = true;
      say(`This browser is now a device of your account (account fingerprint ${joined.accountFingerprint}).`);
      onJoined && onJoined(joined.name);
    } finally {
      busy = false;
      codeForm.hidden = true;
    }
  }) }, "Link this browser");

  const recoverButton = el("button", { type: "button", class: "secondary", testid: "join-recover",
    onclick: () => guarded("Recovering", async () => {
      if (busy) return;
      const name = named();
      busy = true;
      try {
        const done = await meshkit.identity.recover(name, phrase.value);
        phrase.value = "";
        say(`Account recovered: ${done.restored} envelope(s) open again. Remove the devices you lost in “Account and devices”.`);
        onJoined && onJoined(name);
      } finally {
        busy = false;
      }
    }) }, "Recover");

  // no words: the passkey (on this device, a phone or a security key) unlocks the recovery secret
  const passkeyButton = el("button", { type: "button", class: "secondary", testid: "join-passkey",
    hidden: !meshkit.identity.recoverWithPasskey,
    onclick: () => guarded("Recovering with a passkey", async () => {
      if (busy) return;
      const name = named();
      busy = true;
      try {
        const done = await meshkit.identity.recoverWithPasskey(name, { deviceName: name });
        say(`Account recovered with your passkey: ${done.restored} file(s) open again. Remove the devices you lost in Settings.`);
        onJoined && onJoined(name);
      } finally {
        busy = false;
      }
    }) }, "Recover with a passkey");

  const copy = el("button", { type: "button", class: "link", onclick: async () => {
    linkText.select();
    try { await navigator.clipboard.writeText(linkText.value); say("Link copied."); } catch { /* selected for copying */ }
  } }, "Copy");

  // the short code is what people move by hand; the QR code and the link are for a device with a camera
  const shortCode = el("strong", { class: "link-code", testid: "link-short-code" });
  const waiting = el("div", {}, el("p", {}, "Type this code on a device of your account:", el("br"), shortCode),
    canvas, el("details", { class: "tech" }, el("summary", {}, "Or use a link"), el("div", { class: "row" }, linkText, copy)),
    el("p", { class: "hint" }, "Waiting for a device of your account to approve… (2 minutes)"));
  linkShown.append(waiting, codeForm);

  const card = el("section", { class: "card first-step", "aria-labelledby": "join-h", testid: "join" },
    el("h2", { id: "join-h" }, "Already have an account?"),
    el("p", { class: "hint" }, "Use it on this browser too: link it from a device you already use, or, if you " +
      "lost them all, recover it with your 24-word recovery phrase."),
    el("div", { class: "row" }, el("label", { for: "join-name" }, "Name for this device"), deviceName),
    el("div", { class: "row" }, linkButton, passkeyButton), linkShown,
    el("details", { class: "recover" }, el("summary", {}, "Recover with my recovery phrase"),
      el("label", { for: "recover-phrase" }, "Recovery phrase"), phrase,
      el("p", { class: "hint" }, "The phrase is used here, in this page, and never stored or sent."),
      el("div", { class: "row" }, recoverButton)));
  return { card };
}
