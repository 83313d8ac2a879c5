// The MeshKit app: identities, contacts, sealing and opening files, shares, inbox.
// Plain DOM; every piece of user-provided text goes through textContent.
import { accountCard, joinCard } from "./devices.js";
import { el, formatDate, formatSize, shortId } from "./dom.js";
import { envelopesView } from "./envelopes.js";
import { ERRORS } from "./errors.js";  // Core's error registry, written by build.py
import { inboxView } from "./inbox.js";
import { recoveryKit } from "./kit.js";

const JOB_STATES = {
  staging: "encrypting…", queued: "waiting to upload", uploading: "uploading", retrying: "will retry",
  done: "uploaded", failed: "stopped",
};


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

  // --- my envelopes and what was shared with me (envelopes.js, inbox.js) ----------------
  let inbox = null;
  const envelopes = envelopesView(meshkit, { state, guarded, say, streaming,
    onClosed: (root, code) => inbox.closed(root, code) });
  inbox = inboxView(meshkit, { state, guarded, download: envelopes.download, onIdentity: () => refreshAll() });
  const renderEnvelopes = envelopes.render;
  const renderInbox = inbox.render;

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

  // --- layout and refresh ----------------------------------------------------------------
  async function refreshAll() {
    inbox.reset();
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
    el("div", { class: "grid" }, kit.card, whoami, join.card, account.card, contactsCard, inbox.card, sealCard,
      outboxCard, envelopes.card, capsCard));

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
    inbox.watch();
    offerContactLink();
    account.offer();
    document.documentElement.dataset.meshkitUi = "ready";
  });
}
