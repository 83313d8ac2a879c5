// Send links: "Someone sent you a file" for a visitor who holds a link (#send=…), with no
// account needed; and, for the sender, the link maker under each envelope. The link's
// secret stays in the fragment (never sent to a server); link.js, the page's first script,
// took it out of the address bar and history before anything else ran.
import { el, formatSize, saveBlob, shortId } from "./dom.js";
import { ERRORS } from "../meshkit.js";  // Core's error registry, from the package
import { onSendLink, takeSendLink } from "./link.js";

const CLOSED = new Set(["opens_used_up", "revoked", "expired", "not_recipient"]);  // it will not open

export function receivedView(meshkit, { guarded, say }) {
  const what = el("p", { testid: "sent-what" }, "It opens here, no account needed. Nothing is opened until you " +
    "press the button, and if the sender allowed only a few opens, each press counts as one.");
  const about = el("p", { testid: "sent-about", hidden: true });
  const progress = el("progress", { max: "1", value: "0", testid: "sent-progress", "aria-label": "Download progress" });
  const button = el("button", { type: "button", testid: "sent-download" }, "Open and save");
  const card = el("section", { class: "card wide first-step", "aria-labelledby": "sent-h", testid: "sent", hidden: true },
    el("h2", { id: "sent-h" }, "Someone sent you a file"), about, what,
    el("p", { class: "hint" }, "It was encrypted on the sender's device and is decrypted here, in this page: " +
      "the server in between only ever had encrypted blocks."),
    el("div", { class: "row" }, button, progress));
  let link = null;

  // What the link points at, before anything is opened: describing spends none of its opens.
  async function describe() {
    const told = await meshkit.sendLinks.describe(link).catch((error) => ({ error }));
    about.hidden = false;
    if (told.error) {
      const closed = CLOSED.has(told.error.code);
      about.replaceChildren(closed ? (ERRORS[told.error.code] || {}).message || told.error.message
        : "What it is cannot be told right now: you can still try to open it.");
      about.dataset.code = told.error.code || "";
      button.disabled = closed;
      return;
    }
    const left = told.opensLeft === null || told.opensLeft === undefined ? ""
      : told.opensLeft === 1 ? " It opens once more." : ` It opens ${told.opensLeft} more times.`;
    about.replaceChildren(el("strong", { testid: "sent-name" }, told.name || "A file"), ` (${formatSize(told.size)}), `,
      "from ", who(told), ".", told.expires ? ` Until ${new Date(told.expires * 1000).toLocaleString()}.` : "", left);
  }

  // the sender as a person: their account's name and fingerprint, verified by Core through
  // the account chain; a device id only when no account could be verified
  const who = (told) => told.senderName
    ? el("span", { testid: "sent-sender" }, el("strong", {}, told.senderName),
      told.senderFingerprint ? el("small", {}, " (fingerprint ", el("code", {}, told.senderFingerprint), ")") : null)
    : el("code", { testid: "sent-sender", title: told.sender }, shortId(told.sender));

  function offer() {
    const fragment = takeSendLink();
    if (!fragment) return;
    link = fragment;
    card.hidden = false;
    button.disabled = false;
    describe();
  }
  onSendLink(offer);

  button.addEventListener("click", () => guarded("Opening the link", async () => {
    button.disabled = true;
    const opened = await meshkit.sendLinks.open(link, { onProgress: (done, total) => {
      progress.max = total || 1;
      progress.value = total ? done : 1;
    } }).finally(() => { button.disabled = false; });
    about.hidden = false;
    about.replaceChildren(el("strong", { testid: "sent-name" }, opened.name || "A file"), ` (${formatSize(opened.size)}), `,
      "from ", who(opened), ".");
    saveBlob(opened.blob, opened.saveAs || "meshkit-download");
    progress.value = progress.max;
    say(`Downloaded “${opened.name || opened.saveAs}”, every block verified.`);
  }));

  return { card, offer };
}

// The last link made for each file (root -> {link, capsule}), in this page's memory only: the
// link's secret is shown once, when it is made; afterwards the links list shows its state.
const madeLinks = new Map();

// In a file's details: make a send link (with its expiry and number of opens), copy it, or
// stop it.
export function sendLinkControls(meshkit, env, { state, guarded, say, onMade }) {
  const opens = el("select", { "aria-label": "The link opens", testid: "link-opens" },
    el("option", { value: "1" }, "once"), el("option", { value: "5" }, "5 times"), el("option", { value: "" }, "any number of times"));
  const expiry = el("select", { "aria-label": "The link works", testid: "link-expiry" },
    el("option", { value: "7d" }, "for 7 days"), el("option", { value: "1d" }, "for 1 day"),
    el("option", { value: "1h" }, "for 1 hour"), el("option", { value: "" }, "until stopped"));
  const out = el("input", { type: "text", readonly: true, class: "record-out", testid: "link-out", hidden: true,
    "aria-label": `Send link for ${env.name}` });
  const stop = el("button", { type: "button", class: "danger", testid: "link-stop", hidden: true }, "Stop this link");

  function show(made) {
    madeLinks.set(env.root, made);
    out.value = made.link;
    out.hidden = stop.hidden = false;
    stop.onclick = () => guarded("Stopping the link", async () => {
      await meshkit.sendLinks.revoke(made.capsule, { from: state.current });
      madeLinks.delete(env.root);
      out.hidden = stop.hidden = true;
      say(`The link for “${env.name}” no longer opens.`);
      onMade && onMade();
    });
  }

  const make = el("button", { type: "button", testid: "link-make", onclick: () => guarded(`Making a link for ${env.name}`, async () => {
    const made = await meshkit.sendLinks.create(env.root, { from: state.current, expires: expiry.value || undefined,
      opens: opens.value ? Number(opens.value) : undefined });
    show(made);
    out.select();
    const copied = await navigator.clipboard.writeText(made.link).then(() => true, () => false);
    say(`${copied ? "Link copied" : "Copy the link below"}: whoever has it can download “${env.name}”` +
      (made.opens ? ` (${made.opens === 1 ? "once" : made.opens + " times"})` : "") +
      (made.expires ? `, until ${new Date(made.expires * 1000).toLocaleString()}` : "") + ". Send it only to them.");
    onMade && onMade();
  }) }, "Make a link");
  if (madeLinks.has(env.root)) show(madeLinks.get(env.root));
  return el("div", { class: "share", testid: "send-link" },
    el("span", { class: "hint" }, "A new link that opens"), opens, expiry, make, out, stop);
}
