// Contacts: add one from a contact link (or a public record), and the list with the
// fingerprints to compare. A contact link in this page's URL (#contact=…) is offered here.
import { el, shortId } from "./dom.js";

export function contactsView(meshkit, { state, guarded, say, onAdded }) {
  const input = el("textarea", { id: "contact-input", testid: "contact-input", rows: "3",
    placeholder: "Paste a contact link or public record (JSON)" });
  const list = el("ul", { class: "people", testid: "contacts" });
  const card = el("section", { class: "card", "aria-labelledby": "contacts-h" },
    el("h2", { id: "contacts-h" }, "Contacts"), list,
    el("form", { onsubmit: async (event) => {
      event.preventDefault();
      await add(input.value);
    } }, el("label", { for: "contact-input" }, "Add a contact"), input,
      el("button", { type: "submit", testid: "contact-add" }, "Add contact")));

  async function add(text) {
    if (!text.trim()) return;
    const added = await guarded("Adding contact", () => meshkit.contacts.add(text.trim()));
    if (!added) return;
    input.value = "";
    const print = added.accountFingerprint || added.fingerprint;
    say(`Added ${added.name}. Fingerprint ${print}: compare it with them.` + (added.sameNameAs && added.sameNameAs.length
      ? ` You now have ${added.sameNameAs.length + 1} contacts named “${added.name}”: tell them apart by fingerprint; ` +
        "sharing by that name is refused until you choose one." : ""));
    await onAdded();
  }

  function render() {
    list.replaceChildren(...(state.contacts.length ? state.contacts.map((c) => el("li", { testid: "contact" },
      el("strong", {}, c.accountName || c.name), " ", el("code", { title: c.id }, shortId(c.account || c.id)),
      c.account ? el("span", { class: "badge" }, " account") : null, el("br"),
      el("small", {}, c.account ? "account fingerprint " : "fingerprint "),
      el("code", { class: "fingerprint" }, c.accountFingerprint || c.fingerprint)))
      : [el("li", { class: "hint" }, "No contacts yet.")]));
  }

  function offer() {
    if (!new URLSearchParams(location.hash.slice(1)).has("contact")) return;
    input.value = location.href;
    history.replaceState(null, "", location.pathname);
    say("Someone sent you their contact link: check it below, then press “Add contact”.");
    input.focus();
  }

  return { card, render, offer };
}
