// Contacts: the people I share with, each by the name and fingerprint of their account (the
// same on every device of theirs and mine), with a "verified" mark I set after comparing the
// fingerprint with them (kept account-wide; it drops by itself if their fingerprint changes).
// Adding one: from their contact link (a link in this page's URL, #contact=…, is offered
// here). And my own contact link, to give to people.
import { el, keepingFocus, shortId } from "./dom.js";
import { personName } from "./details.js";

export function contactsView(meshkit, { state, guarded, say, places, onAdded }) {
  const input = el("textarea", { id: "contact-input", testid: "contact-input", rows: "3",
    placeholder: "Paste their contact link here" });
  const list = el("ul", { class: "people", testid: "contacts" });
  const recordOut = el("textarea", { class: "record-out", readonly: true, rows: "2", hidden: true, testid: "record-out",
    "aria-label": "My contact link" });
  const copyRecord = el("button", { type: "button", testid: "copy-record", onclick: () => guarded("Copying", async () => {
    const link = await meshkit.identity.contactLink(state.current);
    recordOut.value = link;
    recordOut.hidden = false;
    recordOut.select();
    const copied = await navigator.clipboard.writeText(link).then(() => true, () => false);
    say(copied ? "Contact link copied. Send it to people who should be able to share with you."
      : "Copy the contact link below and send it to people who should be able to share with you.");
  }) }, "Copy my contact link");
  const card = el("section", { class: "card wide", "aria-labelledby": "contacts-h" },
    el("h2", { id: "contacts-h" }, "Contacts"),
    el("p", { class: "hint" }, "Before you trust a contact, compare their fingerprint with them in person or on a call, " +
      "then mark them verified. A fingerprint stays the same on all of a person's devices."),
    list,
    el("div", { class: "two" },
      el("form", { onsubmit: async (event) => {
        event.preventDefault();
        await add(input.value);
      } }, el("h3", {}, el("label", { for: "contact-input" }, "Add a contact")), input,
        el("div", { class: "row" }, el("button", { type: "submit", testid: "contact-add" }, "Add contact"))),
      el("div", {}, el("h3", {}, "Your contact link"),
        el("p", { class: "hint" }, "Give it to people so they can share files with you."),
        el("div", { class: "row" }, copyRecord), recordOut)));

  async function add(text) {
    if (!text.trim()) return;
    const added = await guarded("Adding contact", () => meshkit.contacts.add(text.trim()));
    if (!added) return;
    input.value = "";
    const print = added.accountFingerprint || added.fingerprint;
    say(`Added ${added.accountName || added.name}. Fingerprint ${print}: compare it with them.` + (added.sameNameAs && added.sameNameAs.length
      ? ` You now have ${added.sameNameAs.length + 1} contacts named “${added.name}”: tell them apart by fingerprint; ` +
        "sharing by that name is refused until you choose one." : ""));
    await onAdded();
  }

  function contactItem(c) {
    const key = c.account || c.id;
    const print = c.accountFingerprint || c.fingerprint;
    const verified = places.data.verified[key] === print;
    const changed = !verified && key in places.data.verified;
    const mark = el("button", { type: "button", class: verified ? "link" : "secondary", "data-focus": "mark",
      testid: verified ? "contact-unverify" : "contact-verify",
      "aria-label": `${verified ? "Unmark" : "Mark"} ${personName(c)} as verified`,
      onclick: () => guarded("Marking as verified", async () => {
        await places.update((d) => { if (verified) delete d.verified[key]; else d.verified[key] = print; });
        say(verified ? `${personName(c)} is no longer marked verified.` : `${personName(c)} is marked verified on all your devices.`);
      }) }, verified ? "Unmark" : "Mark as verified");
    return el("li", { testid: "contact", "data-id": c.id, "data-verified": String(verified) },
      el("div", {}, el("strong", {}, personName(c)), " ",
        verified ? el("span", { class: "badge", testid: "contact-verified" }, "✓ verified") : null,
        changed ? el("span", { class: "badge warn", testid: "contact-changed" }, "fingerprint changed: compare again") : null),
      el("small", {}, "fingerprint ", el("code", { class: "fingerprint", title: c.account || c.id }, print)),
      mark);
  }

  function render() {
    keepingFocus(list, () => list.replaceChildren(...(state.contacts.length ? state.contacts.map(contactItem)
      : [el("li", { class: "hint" }, "No contacts yet: paste someone's contact link below.")])));
    copyRecord.disabled = !state.current;
    recordOut.hidden = true;
  }
  places.onChange(() => render());

  function offer() {
    if (!new URLSearchParams(location.hash.slice(1)).has("contact")) return false;
    input.value = location.href;
    history.replaceState(null, "", location.pathname);
    say("Someone sent you their contact link: check it below, then press “Add contact”.");
    input.focus();
    return true;
  }

  return { card, render, offer };
}
