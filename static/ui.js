// The MeshKit app: identities, contacts, sealing and opening files, shares, inbox.
// Plain DOM; every piece of user-provided text goes through textContent.
import { accountCard, joinCard } from "./devices.js";
import { ERRORS } from "./errors.js";  // Core's error registry, written by build.py
import { recoveryKit } from "./kit.js";


const INBOX_POLL_MS = 3000;

const JOB_STATES = {
  staging: "encrypting…", queued: "waiting to upload", uploading: "uploading", retrying: "will retry",
  done: "uploaded", failed: "stopped",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "testid") node.dataset.testid = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const formatSize = (n) => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB`
  : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / (1 << 30)).toFixed(2)} GiB`;
const formatDate = (s) => s ? new Date(s * 1000).toLocaleString() : "";
const shortId = (id) => id && id.length > 14 ? id.slice(0, 8) + "…" + id.slice(-4) : id;

export function render(root, meshkit) {
  const state = { identities: [], contacts: [], current: localStorage.getItem("meshkit.identity") || "" };
  const streaming = !!(navigator.serviceWorker && navigator.serviceWorker.controller); // the worker serves opens

  const header = el("header", { class: "top" }, el("h1", {}, el("img", { src: new URL("icons/icon.svg", import.meta.url).href,
    alt: "", width: "28", height: "28" }), " MeshKit"),
  el("p", {}, "End-to-end-encrypted file sharing. Keys never leave this browser."));
  const alertBox = el("div", { class: "alert", role: "alert", testid: "error", hidden: true });
  const notice = el("div", { class: "notice", role: "status", "aria-live": "polite", testid: "notice" });
  // Feedback goes where the user is: right after the control they last used (its row,
  // form, list item or table cell), scrolled into view; the alert and the notice are live
  // regions, so screen readers announce them wherever they are.
  let lastAction = null;
  for (const type of ["click", "submit", "change"]) {
    root.addEventListener(type, (event) => { if (event.target.closest(".card")) lastAction = event.target; }, true);
  }
  function placeNearAction(box) {
    const spot = lastAction && lastAction.isConnected && lastAction.closest("td, li, form, .row, .drop");
    if (!spot) return header.after(box);
    if (spot.tagName === "TD" || spot.tagName === "LI") spot.append(box);
    else spot.after(box);
    box.scrollIntoView({ block: "nearest" });
  }
  function showError(error, context) {
    const code = error && error.code;
    // a few codes cover many mistakes: their own message says which one
    const detailed = code === "invalid_argument" || code === "limit_exceeded" || code === "quota_exceeded";
    const sentence = (detailed && error.message) || (ERRORS[code] && ERRORS[code].message) || (error && error.message)
      || String(error);
    alertBox.replaceChildren(el("strong", {}, context ? context + ": " : ""), sentence,
      code ? el("span", { class: "code" }, ` (${code})`) : null,
      el("button", { class: "link", type: "button", "aria-label": "Dismiss", onclick: () => { alertBox.hidden = true; } }, "×"));
    alertBox.dataset.code = code || "";
    alertBox.hidden = false;
    notice.textContent = "";
    placeNearAction(alertBox);
  }
  function say(text) {
    notice.textContent = text;
    alertBox.hidden = true;
    placeNearAction(notice);
  }
  async function guarded(context, action) {
    try {
      return await action();
    } catch (error) {
      showError(error, context);
      return undefined;
    }
  }

  // --- header: identity select + create ------------------------------------------------
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
      state.current = made.name;
      say(`Identity “${made.name}” created${made.published ? " and published" : " (not yet published: gateway unreachable)"}.`);
      await refreshAll();
      if (made.recoveryPhrase) kit.show(made.name, made);  // shown this once
    }
  } }, createLabel, nameInput,
    el("button", { type: "submit", testid: "identity-create" }, "Create"));

  identitySelect.addEventListener("change", async () => {
    state.current = identitySelect.value;
    localStorage.setItem("meshkit.identity", state.current);
    await refreshAll();
  });

  const copyRecord = el("button", { type: "button", testid: "copy-record", onclick: () => guarded("Copying", async () => {
    const link = await meshkit.identity.contactLink(state.current);
    recordOut.value = link;
    recordOut.hidden = false;
    recordOut.select();
    try { await navigator.clipboard.writeText(link); say("Contact link copied. Send it to people who should be able to share with you."); }
    catch { say("Copy the contact link below and send it to people who should be able to share with you."); }
  }) }, "Copy my contact link");
  const recordOut = el("textarea", { class: "record-out", readonly: true, rows: "2", hidden: true, testid: "record-out",
    "aria-label": "My contact link" });

  const identityFacts = el("div", { testid: "identity-facts" },
    el("div", { class: "row" }, el("label", { for: "identity-select" }, "Acting as"), identitySelect),
    el("dl", { class: "facts" },
      fingerprintLabel, el("dd", {}, fingerprint),
      el("dt", {}, "This device"), el("dd", {}, deviceFingerprint),
      el("dt", {}, "Device id"), el("dd", {}, idText)),
    el("p", { class: "hint" }, "Compare your fingerprint with your contacts over another channel (in person, a " +
      "call) before trusting them; it stays the same on all your devices and after a recovery."),
    el("div", { class: "row" }, copyRecord), recordOut);
  const whoTitle = el("h2", { id: "who-h" }, "Identity");
  const firstStep = el("p", { class: "lead", testid: "first-step" }, "Start here: choose a name for yourself on " +
    "this device and press Create. You get an account that works on all your devices, and a recovery kit to keep safe.");
  const whoami = el("section", { class: "card first-step", "aria-labelledby": "who-h" },
    whoTitle, firstStep, identityFacts, createForm);

  const kit = recoveryKit(meshkit, { el, guarded, say, onConfirmed: () => renderCaps() });
  const account = accountCard(meshkit, { el, guarded, say, formatDate, shortId, onChange: () => renderCaps() });
  const join = joinCard(meshkit, { el, guarded, say, onJoined: async (name) => {
    state.current = name;
    localStorage.setItem("meshkit.identity", name);
    await refreshAll();
    renderCaps();
  } });

  // --- capability report ---------------------------------------------------------------
  const caps = el("dl", { class: "facts caps", testid: "capabilities" });
  // details for the curious (and for support), folded away from the first view
  const capsCard = el("section", { class: "card wide", "aria-labelledby": "caps-h" },
    el("details", { class: "caps-details" }, el("summary", {}, el("h2", { id: "caps-h" }, "What this browser provides")),
      caps));

  async function renderCaps() {
    const report = await guarded("Reading capabilities", () => meshkit.capabilities());
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

  // --- seal ------------------------------------------------------------------------------
  const fileInput = el("input", { type: "file", id: "file-input", testid: "file-input", class: "visually-hidden" });
  const dropZone = el("button", { type: "button", class: "drop", testid: "drop-zone",
    onclick: () => fileInput.click() }, el("strong", {}, "Drop a file here"), el("span", {}, " or press to choose one"));
  const recipientList = el("fieldset", { class: "recipients", testid: "recipients" });
  const sealProgress = el("progress", { max: "1", value: "0", testid: "seal-progress", "aria-label": "Encrypt and upload progress" });
  const sealStatus = el("span", { class: "status", testid: "seal-status" });
  let sealing = false;

  async function sealFile(file) {
    if (!file || sealing) return;
    if (!state.current) return showError({ code: "unknown_identity", message: "" }, "Create an identity first");
    const to = [...recipientList.querySelectorAll("input:checked")].map((box) => box.value);
    sealing = true;
    dropZone.disabled = true;
    sealProgress.value = 0;
    sealStatus.textContent = `Encrypting ${file.name}…`;
    const env = await guarded(`Encrypting ${file.name}`, () => meshkit.seal(file, { from: state.current, to, name: file.name,
      onProgress: (done, total) => {
        sealProgress.max = total || 1;
        sealProgress.value = total ? done : 1;
        sealStatus.textContent = `${formatSize(done)} of ${formatSize(total)}`;
      } }));
    sealing = false;
    dropZone.disabled = false;
    fileInput.value = "";
    if (env) {
      sealProgress.max = 1;
      sealProgress.value = 1;
      sealStatus.textContent = env.status === "queued" ? "Queued" : "Done";
      const why = env.queued_because === "rate_limited" ? "The gateway asks for a pause (too many requests)"
        : env.queued_because === "policy_unavailable" ? "A policy provider is not answering"
        : "The gateway cannot be reached";
      say(env.status === "queued"
        ? `Encrypted “${env.name}”. ${why}, so it waits in the outbox and uploads in the background.`
        : `Encrypted and uploaded “${env.name}”.`);
      await Promise.all([renderEnvelopes(), renderJobs()]);
    } else {
      sealStatus.textContent = "Failed";
    }
  }
  fileInput.addEventListener("change", () => sealFile(fileInput.files[0]));
  // leaving while a file is being encrypted or uploaded loses that upload: ask first
  window.addEventListener("beforeunload", (event) => {
    if (sealing) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.add("over"); });
  }
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("over");
    sealFile(event.dataTransfer.files[0]);
  });

  const sealCard = el("section", { class: "card wide", "aria-labelledby": "seal-h" },
    el("h2", { id: "seal-h" }, "Encrypt and upload"),
    el("p", { class: "hint" }, "The file is encrypted here, in this page; the gateway only ever stores encrypted blocks."),
    recipientList, fileInput, dropZone,
    el("div", { class: "row" }, sealProgress, sealStatus));

  function renderRecipients() {
    const people = [...state.contacts];
    recipientList.replaceChildren(el("legend", {}, "Also readable by (you always are)"));
    if (!people.length) recipientList.append(el("p", { class: "hint" }, "No contacts yet: add one below to encrypt for them too."));
    for (const person of people) {
      const box = el("input", { type: "checkbox", value: person.id, id: "to-" + person.id });
      recipientList.append(el("label", { class: "check", for: "to-" + person.id }, box, ` ${person.name} `,
        el("code", {}, shortId(person.id))));
    }
  }

  // --- my envelopes ----------------------------------------------------------------------
  const envelopeBody = el("tbody", { testid: "envelopes" });
  const openProgress = el("progress", { max: "1", value: "0", testid: "open-progress", "aria-label": "Download progress" });
  const envelopesCard = el("section", { class: "card wide", "aria-labelledby": "env-h" },
    el("h2", { id: "env-h" }, "My envelopes"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Size"), el("th", {}, "Root CID"),
        el("th", {}, "Date"), el("th", {}, el("span", { class: "visually-hidden" }, "Actions")))),
      envelopeBody)),
    el("div", { class: "row" }, openProgress));

  async function download(root, name, size) {
    openProgress.value = 0;
    const opened = await guarded(`Opening ${name || root}`, () => meshkit.open(root, { as: state.current,
      onProgress: (done, total) => { openProgress.max = total || 1; openProgress.value = total ? done : 1; } })
      .catch((error) => {  // closed now (revoked, expired): the inbox shows it from here on
        if (CLOSED.has(error.code)) descriptions.set(root, { error: error.code });
        throw error;
      }));
    if (!opened) return;
    openProgress.max = 1;
    openProgress.value = 1;
    const url = URL.createObjectURL(opened.blob);
    // the sender's file name, as Core made it safe to save under
    const link = el("a", { href: url, download: opened.saveAs || name || root + ".bin" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(`Opened “${opened.name || name || root}” (${formatSize(opened.size)}), every block verified.`);
  }

  function shareControls(env) {
    const select = el("select", { "aria-label": `Share ${env.name} with`, testid: "share-to" },
      el("option", { value: "" }, "Share with…"),
      ...state.contacts.map((c) => el("option", { value: c.id }, `${c.name} (${shortId(c.id)})`)));
    const expiry = el("select", { "aria-label": "Share expires", testid: "share-expiry" },
      el("option", { value: "" }, "never expires"), el("option", { value: "1h" }, "expires in 1 hour"),
      el("option", { value: "1d" }, "expires in 1 day"), el("option", { value: "7d" }, "expires in 7 days"));
    const share = el("button", { type: "button", testid: "share", onclick: () => guarded(`Sharing ${env.name}`, async () => {
      if (!select.value) throw { code: "invalid_argument", message: "choose a contact" };
      const result = await meshkit.share(env.root, { from: state.current, to: select.value, expires: expiry.value || undefined });
      say(`Shared “${env.name}” with ${select.selectedOptions[0].textContent}.`);
      return result;
    }) }, "Share");
    const revoke = el("button", { type: "button", class: "danger", testid: "revoke", onclick: () => guarded(`Revoking ${env.name}`, async () => {
      if (!select.value) throw { code: "invalid_argument", message: "choose the contact whose share to revoke" };
      const result = await meshkit.revoke(env.root, { from: state.current, to: select.value });
      say(`Stopped sharing “${env.name}” with ${select.selectedOptions[0].textContent}: their future opens fail ` +
        `(${result.revoked.length} key${result.revoked.length === 1 ? "" : "s"} revoked, one per device and recovery key).`);
    }) }, "Revoke");
    const list = el("ul", { class: "access", testid: "access-list", hidden: true });
    const who = el("button", { type: "button", class: "link", testid: "access", "aria-expanded": "false",
      onclick: () => guarded(`Listing who can open ${env.name}`, async () => {
        if (!list.hidden) { list.hidden = true; who.setAttribute("aria-expanded", "false"); return; }
        const access = await meshkit.access(env.root, { as: state.current });
        const label = (id, name) => name ? `${name} (${shortId(id)})` : shortId(id);
        list.replaceChildren(
          ...access.recipients.map((r) => el("li", { testid: "access-recipient" }, label(r.id, r.name),
            el("small", {}, " · sealed to them: cannot be taken back"))),
          ...access.shares.map((sh) => el("li", { testid: "access-share", "data-state": sh.state }, label(sh.to, sh.name),
            el("small", {}, sh.state === "live" ? (sh.expires ? ` · shared, until ${formatDate(sh.expires)}` : " · shared")
              : ` · share ${sh.state}`))));
        list.hidden = false;
        who.setAttribute("aria-expanded", "true");
      }) }, "Who can open it?");
    return el("div", { class: "share" }, select, expiry, share, revoke, who, list);
  }

  async function renderEnvelopes() {
    envelopeBody.replaceChildren();
    if (!state.current) return;
    const list = await guarded("Listing envelopes", () => meshkit.envelopes(state.current)) || [];
    if (!list.length) {
      envelopeBody.append(el("tr", {}, el("td", { colspan: "5", class: "hint" }, "Nothing yet: encrypt a file above.")));
    }
    for (const env of list) {
      envelopeBody.append(el("tr", { testid: "envelope-row", "data-root": env.root },
        el("td", {}, env.name, env.status === "queued" ? el("span", { class: "badge warn" }, " in outbox") : null),
        el("td", {}, formatSize(env.size)),
        el("td", {}, el("code", { class: "cid", testid: "envelope-root", title: env.root }, env.root)),
        el("td", {}, formatDate(env.created)),
        el("td", { class: "actions" },
          el("button", { type: "button", testid: "open", onclick: () => download(env.root, env.name, env.size) }, "Open"),
          // large files: streamed by the service worker straight to disk, never held in memory
          // the worker's link is one-time and short-lived: minted on the click, used at once
          streaming ? el("button", { type: "button", class: "button", testid: "save-streamed",
            title: "Decrypt while downloading (for large files)",
            onclick: () => guarded(`Saving ${env.name}`, async () => {
              // a plain navigation, which the worker answers (an attachment: the page stays);
              // a link with the download attribute would go past the worker to the gateway
              const link = el("a", { href: await meshkit.openUrl(env.root, { as: state.current, name: env.name,
                download: true }), hidden: true });
              document.body.append(link);
              link.click();
              link.remove();
            }) }, "Save") : null,
          shareControls(env))));
    }
  }

  // --- the outbox: uploads waiting, running or stopped -----------------------------------
  const jobList = el("ul", { class: "jobs", testid: "jobs" });
  const outboxCard = el("section", { class: "card", "aria-labelledby": "outbox-h", testid: "outbox" },
    el("h2", { id: "outbox-h" }, "Outbox"), jobList);

  async function renderJobs() {
    const jobs = (await guarded("Listing the outbox", () => meshkit.jobs.list()) || [])
      .filter((job) => job.state !== "done" || Date.now() / 1000 - (job.finished || 0) < 600);
    outboxCard.hidden = !jobs.length;
    jobList.replaceChildren(...jobs.map((job) => {
      const error = job.error ? ((ERRORS[job.error.code] && ERRORS[job.error.code].message) || job.error.message) : "";
      const actions = job.state === "failed" || job.state === "retrying" ? el("div", { class: "share" },
        job.error && job.error.code !== "interrupted" ? el("button", { type: "button", testid: "job-retry",
          onclick: () => guarded(`Retrying ${job.name}`, () => meshkit.jobs.retry(job.id)) }, "Retry now") : null,
        el("button", { type: "button", class: "danger", testid: "job-discard",
          onclick: () => guarded(`Discarding ${job.name}`, () => meshkit.jobs.discard(job.id)) }, "Discard")) : null;
      return el("li", { testid: "job-row", "data-job": job.id, "data-state": job.state },
        el("div", {}, el("strong", {}, job.name), " ", el("span", { class: "badge" + (job.state === "failed" ? " warn" : ""),
          testid: "job-state" }, JOB_STATES[job.state] || job.state)),
        el("progress", { max: String(job.blocks || 1), value: String(job.sent || 0), "aria-label": `Upload of ${job.name}` }),
        el("small", {}, `${formatSize(job.size)} · ${job.sent || 0} of ${job.blocks || "?"} blocks`,
          job.state === "retrying" && job.next_attempt ? ` · next try ${new Date(job.next_attempt * 1000).toLocaleTimeString()}` : ""),
        error ? el("p", { class: "job-error", testid: "job-error" }, error,
          el("span", { class: "code" }, ` (${job.error.code})`)) : null,
        actions);
    }));
  }

  // the worker and other tabs report progress: redraw at most every 300 ms
  let redraw = null;
  meshkit.onChange((message) => {
    if (message.type === "inbox" && message.identity === state.current) {
      say(`${message.new} new share(s) in your inbox.`);
      renderInbox();
    } else if (message.type === "job" && !redraw) {
      redraw = setTimeout(() => {
        redraw = null;
        renderJobs();
        renderEnvelopes(); // a queued or finished upload changes its row's status
      }, 300);
    }
  });

  // --- contacts --------------------------------------------------------------------------
  const contactInput = el("textarea", { id: "contact-input", testid: "contact-input", rows: "3",
    placeholder: "Paste a contact link or public record (JSON)" });
  const contactList = el("ul", { class: "people", testid: "contacts" });
  const contactsCard = el("section", { class: "card", "aria-labelledby": "contacts-h" },
    el("h2", { id: "contacts-h" }, "Contacts"), contactList,
    el("form", { onsubmit: async (event) => {
      event.preventDefault();
      await addContact(contactInput.value);
    } }, el("label", { for: "contact-input" }, "Add a contact"), contactInput,
      el("button", { type: "submit", testid: "contact-add" }, "Add contact")));

  async function addContact(text) {
    if (!text.trim()) return;
    const added = await guarded("Adding contact", () => meshkit.contacts.add(text.trim()));
    if (added) {
      contactInput.value = "";
      const print = added.accountFingerprint || added.fingerprint;
      say(`Added ${added.name}. Fingerprint ${print}: compare it with them.` + (added.sameNameAs && added.sameNameAs.length
        ? ` You now have ${added.sameNameAs.length + 1} contacts named “${added.name}”: tell them apart by fingerprint; ` +
          "sharing by that name is refused until you choose one." : ""));
      await refreshAll();
    }
  }

  function renderContacts() {
    contactList.replaceChildren(...(state.contacts.length ? state.contacts.map((c) => el("li", {},
      el("strong", {}, c.accountName || c.name), " ", el("code", { title: c.id }, shortId(c.account || c.id)),
      c.account ? el("span", { class: "badge" }, " account") : null, el("br"),
      el("small", {}, c.account ? "account fingerprint " : "fingerprint "),
      el("code", { class: "fingerprint" }, c.accountFingerprint || c.fingerprint)))
      : [el("li", { class: "hint" }, "No contacts yet.")]));
  }

  // --- inbox -----------------------------------------------------------------------------
  const inboxList = el("ul", { class: "inbox", testid: "inbox" });
  const inboxBadge = el("span", { class: "badge", testid: "inbox-new", hidden: true, "aria-live": "polite" });
  // new shares show up by themselves while the page is open and visible: a light look at
  // the gateway's mailbox every few seconds (unread notices only)
  let seenMessages = null;
  async function watchInbox() {
    if (!state.current) {  // an identity made elsewhere (another tab, the API): leave the first run
      const made = await meshkit.identity.list().catch(() => []);
      if (made.length) await refreshAll();
    } else if (document.visibilityState === "visible") {
      const current = state.current;
      const unread = await meshkit.inbox(current).catch(() => null);
      if (unread && current === state.current) {
        const ids = new Set(unread.filter((m) => m.kind === "share" || m.kind === "sealed").map((m) => m.id));
        const fresh = seenMessages ? [...ids].filter((id) => !seenMessages.has(id)) : [];
        seenMessages = ids;
        if (fresh.length) {
          inboxBadge.textContent = `${fresh.length} new`;
          inboxBadge.hidden = false;
          await renderInbox();
        }
      }
    }
    setTimeout(watchInbox, INBOX_POLL_MS);
  }
  const inboxCard = el("section", { class: "card", "aria-labelledby": "inbox-h" },
    el("h2", { id: "inbox-h" }, "Shared with me ", inboxBadge),
    el("button", { type: "button", class: "link", testid: "inbox-refresh", onclick: () => renderInbox() }, "Refresh"),
    inboxList);

  const descriptions = new Map();  // root -> {name, type, size, ...}; a failure is not kept
  async function describe(root) {
    if (!descriptions.has(root)) {
      const what = await meshkit.describe(root, { as: state.current }).catch((error) => ({ error: error.code }));
      if (what.error && !CLOSED.has(what.error)) return null;  // e.g. offline: ask again next time
      descriptions.set(root, what);
    }
    return descriptions.get(root);
  }
  const CLOSED = new Set(["revoked", "expired", "policy_denied", "not_recipient"]);  // for good, or until changed

  async function renderInbox() {
    if (!state.current) return inboxList.replaceChildren();
    const messages = await guarded("Checking the inbox", () => meshkit.inbox(state.current, { all: true })) || [];
    const shares = messages.filter((m) => (m.kind === "share" || m.kind === "sealed") && m.share);
    const names = Object.fromEntries(state.contacts.map((c) => [c.id, c.name]));
    // what each one is: its sealed metadata, read (and kept) once per envelope
    const described = await Promise.all(shares.map((m) => describe(m.share.root)));
    inboxList.replaceChildren(...(shares.length ? shares.map((m, i) => [m, described[i]]).reverse().map(([m, what]) =>
      el("li", { testid: "inbox-item", "data-root": m.share.root },
        el("div", {}, el("strong", { testid: "inbox-name" }, what && what.name ? what.name : shortId(m.share.root)),
          " from ", el("span", {}, names[m.share.sharer] || shortId(m.share.sharer)),
          what && what.error ? el("span", { class: "badge warn", testid: "inbox-state" },
            ` ${(ERRORS[what.error] && ERRORS[what.error].message) || what.error}`) : null),
        el("small", {}, [what ? formatSize(what.size) : "", formatDate(m.created),
          m.share.expires ? `expires ${formatDate(m.share.expires)}` : ""].filter(Boolean).join(" · ")),
        el("button", { type: "button", testid: "inbox-open", onfocus: () => { inboxBadge.hidden = true; },
          disabled: !!(what && what.error),  // a revoked or expired share does not look openable
          onclick: () => download(m.share.root, what && what.name ? what.name : "", 0) }, "Open")))
      : [el("li", { class: "hint" }, "Nothing shared with you yet.")]));
  }

  // --- layout and refresh ----------------------------------------------------------------
  async function refreshAll() {
    seenMessages = null;  // the next look at the mailbox sets what counts as new
    state.identities = await guarded("Listing identities", () => meshkit.identity.list()) || [];
    state.contacts = await guarded("Listing contacts", () => meshkit.contacts.list()) || [];
    if (!state.identities.some((i) => i.name === state.current)) state.current = state.identities[0]?.name || "";
    localStorage.setItem("meshkit.identity", state.current);
    identitySelect.replaceChildren(...(state.identities.length
      ? state.identities.map((i) => el("option", { value: i.name, selected: i.name === state.current }, i.name))
      : [el("option", { value: "" }, "no identity yet")]));
    identitySelect.disabled = !state.identities.length;
    const me = state.identities.find((i) => i.name === state.current);
    // the account's fingerprint is the one people check; the device's only tells devices apart
    fingerprintLabel.textContent = me && me.account ? "Account fingerprint" : "Fingerprint";
    fingerprint.textContent = me ? (me.accountFingerprint || me.fingerprint) : "—";
    deviceFingerprint.textContent = me ? me.fingerprint : "—";
    idText.textContent = me ? me.id : "—";
    join.card.hidden = !!(me && me.account);
    // the first run shows one step (create, or join an account you have); the rest after
    document.documentElement.dataset.firstRun = String(!state.identities.length);
    whoTitle.textContent = state.identities.length ? "Identity" : "Create your account";
    firstStep.hidden = !!state.identities.length;
    identityFacts.hidden = !state.identities.length;
    createLabel.textContent = state.identities.length ? "New identity" : "Your name";
    copyRecord.disabled = !me;
    recordOut.hidden = true;
    renderRecipients();
    renderContacts();
    await Promise.all([account.render(me), renderEnvelopes(), renderInbox(), renderJobs()]);
  }

  root.replaceChildren(
    header,
    alertBox, notice,
    el("div", { class: "grid" }, kit.card, whoami, join.card, account.card, contactsCard, inboxCard, sealCard,
      outboxCard, envelopesCard, capsCard));

  renderCaps();
  function offerContactLink() {
    if (!new URLSearchParams(location.hash.slice(1)).has("contact")) return;
    contactInput.value = location.href;
    history.replaceState(null, "", location.pathname);
    say("Someone sent you their contact link: check it below, then press “Add contact”.");
    contactInput.focus();
  }
  window.addEventListener("hashchange", () => { offerContactLink(); account.offer(); });
  refreshAll().then(() => {
    watchInbox();
    offerContactLink();
    account.offer();
    document.documentElement.dataset.meshkitUi = "ready";
  });
}
