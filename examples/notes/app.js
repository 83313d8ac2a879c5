// Team notes: a note is text (and maybe an attached file) sealed with MeshKit to yourself,
// and shared with teammates through revocable shares. Only the meshkit-web package's public
// API is used (its index.d.ts); MeshKit's own app and styles are not involved.
//
// The package is imported dynamically only so that a missing or broken copy is said on the
// page (a failed static import would leave it blank); `import { createMeshKit } from
// "/vendor/meshkit/meshkit.js"` works as well.
const PACKAGE = "/vendor/meshkit/meshkit.js";
let createMeshKit, shown = String;

const main = document.getElementById("main");
const root = document.documentElement;
const NOTE = ".note";  // a note's envelope is named "<title>.note"; an attachment keeps its file name

// --- small DOM helpers (text always goes in as text, never as HTML) ---------------------------
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "test") node.dataset.testid = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
const when = (seconds) => seconds ? new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
const size = (n) => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
const title = (name) => shown(String(name || "untitled").replace(/\.note$/, ""));
// what a person reads for MeshKit's typed errors (the rest: the error's own message)
const SAY = {
  revoked: "The author revoked your access to this note.",
  expired: "This share has expired.",
  not_recipient: "This note was not shared with you.",
  forbidden: "The gateway refused: you no longer have access.",
  unavailable: "The gateway cannot be reached right now.",
  gateway_origin_refused: "The gateway does not accept this app's origin (start it with --cors-origin for this site).",
  insecure_context: "This page must be served over https:// (or from localhost).",
};
const author = (note) => `${shown(note.author || "someone")} (${shown(note.sender).slice(0, 10)}…)`;
const say = (error) => SAY[error.code] || error.message || String(error);
function failure(error, test) {
  return h("p", { class: "problem", role: "alert", test, data: { code: error.code || "error" } }, say(error));
}

// --- boot ----------------------------------------------------------------------------------
const bar = document.querySelector('[data-testid="boot-progress"]');
const stage = document.querySelector('[data-testid="boot-stage"]');
function progress({ stage: step, loaded, total }) {
  if (step === "download") {
    bar.max = total || 1;
    bar.value = Math.min(loaded, total);
    stage.textContent = `Loading the encryption engine… ${(loaded / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MB`;
  } else {
    bar.value = bar.max;
    stage.textContent = "Starting…";
  }
}

function fatal(error) {
  root.dataset.notes = "error";
  root.dataset.notesError = error.code || "error";
  // what meshkit_web.testing.wait_for_meshkit waits for (a test reads the code, nothing is evaluated)
  root.dataset.meshkitError = error.code || "error";
  root.dataset.meshkitReady = "error";
  main.replaceChildren(h("section", { class: "sheet", test: "fatal", data: { code: error.code || "error" } },
    h("h1", {}, "Team notes cannot start"),
    h("p", {}, say(error)),
    h("p", { class: "quiet" }, `${error.code || "error"}: ${error.message || error}`)));
}

// The app's own service worker (sw.js): offline starts, background uploads, streamed downloads.
async function registerWorker(config) {
  if (!("serviceWorker" in navigator)) return;
  const script = new URL("./sw.js", location.href);
  script.search = new URLSearchParams({ gateway: config.gateway, namespace: config.namespace });
  try {
    await navigator.serviceWorker.register(script.href, { type: "module", scope: "./" });
  } catch (error) {
    console.warn(`notes: the service worker was not registered (${error.name}): uploads run while this page is open`);
  }
}

let mk, me, config;
const state = { mine: [], shared: [], described: new Map(), open: null, recovery: null };

async function boot() {
  root.dataset.notes = "booting";
  try {
    ({ createMeshKit, shown } = await import(PACKAGE));
  } catch (error) {
    return fatal({ code: "unavailable", message: `the MeshKit package could not be loaded from ${PACKAGE} (${error.message})` });
  }
  try {
    config = await (await fetch("./config.json", { cache: "no-cache" })).json();
  } catch {
    return fatal({ code: "unavailable", message: "config.json could not be loaded (offline before the first visit?)" });
  }
  try {
    mk = await createMeshKit({ gateway: config.gateway, namespace: config.namespace, onProgress: progress,
      linkBase: location.origin + location.pathname });
  } catch (error) {
    return fatal(error);
  }
  root.dataset.meshkitReady = "true";
  globalThis.notesApp = { mk, config, state, refresh: () => refresh() };  // for the console and the tests
  registerWorker(config);  // after the start: its install would compete with this boot
  mk.onChange((event) => {
    if (event.type === "job" || event.type === "inbox") scheduleRefresh();
    if (event.type === "background") showNet();
  });
  addEventListener("online", showNet);
  addEventListener("offline", showNet);
  me = (await mk.identity.list())[0] || null;
  root.dataset.notes = "ready";
  showNet();
  if (me) await showNotebook();
  else showSetup();
}

function showNet() {
  const pill = document.querySelector('[data-testid="net"]');
  const online = navigator.onLine;
  const background = mk && mk.background.mode === "service-worker";
  pill.hidden = false;
  pill.className = "pill " + (online ? "on" : "off");
  pill.dataset.background = mk ? mk.background.mode : "";
  pill.replaceChildren(online ? "online" : "offline", background ? h("span", { class: "more" }, " · uploads in background") : "");
  pill.title = mk ? mk.background.detail : "";
}

// --- first visit: one identity for this notebook ----------------------------------------------
function showSetup() {
  const name = h("input", { name: "name", required: true, maxlength: "40", autocomplete: "nickname",
    placeholder: "e.g. ada", test: "setup-name" });
  const status = h("p", { class: "quiet", role: "status" });
  const form = h("form", { class: "sheet setup", test: "setup", onsubmit: async (event) => {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    status.replaceChildren("Making your keys and publishing your public record…");
    try {
      const made = await mk.identity.create(name.value.trim());
      me = (await mk.identity.list()).find((i) => i.id === made.id);
      state.recovery = made.recoveryPhrase;
      await showNotebook();
    } catch (error) {
      form.querySelector("button").disabled = false;
      status.replaceChildren(failure(error, "setup-error"));
    }
  } },
  h("h1", {}, "Start your notebook"),
  h("p", {}, "Notes are encrypted in this page before they leave it. Your keys stay in this browser."),
  h("label", {}, "Your name, as teammates will see it", name),
  h("button", { type: "submit", test: "setup-create" }, "Create notebook"),
  status);
  main.replaceChildren(form);
  name.focus();
}

// --- the notebook ----------------------------------------------------------------------------
async function showNotebook() {
  document.querySelector('[data-testid="who"]').textContent = shown(me.name);
  const link = await mk.identity.contactLink(me.name).catch(() => "");
  const layout = h("div", { class: "layout" },
    h("aside", { class: "side" },
      state.recovery ? recoveryCard() : null,
      composeCard(),
      h("section", { class: "card me-card", test: "me" },
        h("h2", {}, "Your contact link"),
        h("p", { class: "quiet" }, "Send it to a teammate: they paste it to share notes with you."),
        h("div", { class: "copy" }, h("input", { readOnly: true, value: link, test: "my-link", "aria-label": "Your contact link" }),
          h("button", { type: "button", class: "ghost", onclick: () => navigator.clipboard.writeText(link) }, "Copy")),
        h("p", { class: "quiet small" }, "Fingerprint ", h("code", {}, me.fingerprint)))),
    h("div", { class: "lists" },
      h("section", { class: "card mine-card" },
        h("div", { class: "head" }, h("h2", {}, "My notes"),
          h("button", { type: "button", class: "ghost", test: "refresh", onclick: () => refresh() }, "Refresh")),
        h("ul", { class: "notes", test: "mine" }),
        h("p", { class: "quiet", test: "outbox" })),
      h("section", { class: "card shared-card" }, h("h2", {}, "Shared with me"), h("ul", { class: "notes", test: "shared" })),
      h("section", { class: "card viewer", test: "viewer", hidden: true })));
  main.replaceChildren(layout);
  root.dataset.notesView = "notebook";
  await refresh();
}

function recoveryCard() {
  const card = h("section", { class: "card note-warn", test: "recovery" },
    h("h2", {}, "Write down your recovery words"),
    h("p", {}, "They are shown once. With them you can get your notes back on a new device."),
    h("p", { class: "words" }, state.recovery),
    h("button", { type: "button", onclick: () => { state.recovery = null; card.remove(); } }, "I wrote them down"));
  return card;
}

function composeCard() {
  const titleInput = h("input", { name: "title", required: true, maxlength: "120", placeholder: "Title", test: "note-title" });
  const text = h("textarea", { name: "text", rows: "6", placeholder: "Write your note…", test: "note-text" });
  const file = h("input", { type: "file", name: "file", test: "note-file" });
  const shareTo = h("input", { name: "share", placeholder: "Contact link or mk… id (optional)", test: "note-share" });
  const status = h("div", { class: "status", role: "status", test: "compose-status" });
  const button = h("button", { type: "submit", test: "note-save" }, "Seal note");
  const form = h("form", { class: "card compose", test: "compose", onsubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.replaceChildren("Encrypting…");
    try {
      const sealed = await sealNote(titleInput.value.trim(), text.value, file.files[0] || null);
      let said = sealed.status === "queued" ? "Sealed, waiting to upload (it finishes even if you close this page)."
        : "Sealed and uploaded.";
      if (shareTo.value.trim()) {
        if (sealed.status === "queued") said += " Share it once it is uploaded.";
        else { await shareNote(sealed, shareTo.value); said += " Shared."; }
      }
      status.replaceChildren(h("span", { data: { state: sealed.status, root: sealed.root } }, said));
      form.reset();
      await refresh();
    } catch (error) {
      status.replaceChildren(failure(error, "compose-error"));
    } finally {
      button.disabled = false;
    }
  } },
  h("h2", {}, "New note"),
  titleInput, text,
  h("label", { class: "small" }, "Attach a file ", file),
  h("label", { class: "small" }, "Share with ", shareTo),
  button, status);
  return form;
}

// The attachment first (its own envelope, streamed on download), then the note naming it.
async function sealNote(noteTitle, text, file) {
  let attachment = null;
  if (file) {
    const sealed = await mk.seal(file, { from: me.name, name: file.name });
    attachment = { root: sealed.root, name: file.name, type: file.type, size: file.size };
  }
  // the author's name is theirs to choose; the sender's id (verified by MeshKit) is shown with it
  const body = JSON.stringify({ v: 1, title: noteTitle, text, attachment, author: me.name });
  const note = await mk.seal(new File([body], noteTitle + NOTE, { type: "application/json" }),
    { from: me.name, name: noteTitle + NOTE });
  return { ...note, attachment };
}

// A teammate from a contact link (checked against the gateway's directory) or an id.
async function teammate(text) {
  const value = text.trim();
  if (/^mk[a-z0-9]+$/.test(value)) return value;
  const contact = await mk.contacts.add(value);
  return contact.id;
}

async function shareNote(note, who) {
  const to = await teammate(who);
  const attachment = note.attachment || (await readNote(note.root)).attachment;
  await mk.share(note.root, { from: me.name, to });
  if (attachment) await mk.share(attachment.root, { from: me.name, to });
}

async function readNote(noteRoot) {
  const opened = await mk.open(noteRoot, { as: me.name });
  const body = JSON.parse(await opened.blob.text());
  return { ...body, sender: opened.sender, created: opened.created };
}

// --- lists -----------------------------------------------------------------------------------
let refreshing = null;
let again = false;
function scheduleRefresh() {
  clearTimeout(scheduleRefresh.timer);
  scheduleRefresh.timer = setTimeout(() => refresh(), 150);
}

async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        again = false;
        await load();
      } while (again);
      render();
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function load() {
  const rows = await mk.envelopes(me.name);
  state.mine = rows.filter((row) => String(row.name).endsWith(NOTE)).sort((a, b) => b.created - a.created);
  const jobs = await mk.jobs.list();
  state.waiting = jobs.filter((job) => ["staging", "queued", "uploading", "retrying"].includes(job.state)).length;
  let messages = [];
  try {
    messages = await mk.inbox(me.name, { all: true });
  } catch (error) {
    console.warn(`notes: inbox (${error.code})`);
  }
  const shared = [];
  for (const message of messages) {
    if (message.kind !== "share" || !message.share || shared.some((s) => s.root === message.share.root)) continue;
    const noteRoot = message.share.root;
    if (!state.described.has(noteRoot)) {
      try {
        state.described.set(noteRoot, await mk.describe(noteRoot, { as: me.name }));
      } catch (error) {
        state.described.set(noteRoot, { error, name: null });  // revoked, expired, offline: said in the list
      }
    }
    const described = state.described.get(noteRoot);
    if (described.error || String(described.name).endsWith(NOTE)) {
      shared.push({ root: noteRoot, name: described.name, sender: message.sender, created: message.created,
        author: described.author, error: described.error || null });
    }
  }
  state.shared = shared;
}

function render() {
  const mine = main.querySelector('[data-testid="mine"]');
  const shared = main.querySelector('[data-testid="shared"]');
  if (!mine) return;
  mine.replaceChildren(...(state.mine.length ? state.mine.map((row) => noteItem(row, "mine"))
    : [h("li", { class: "empty" }, "No notes yet: write one.")]));
  shared.replaceChildren(...(state.shared.length ? state.shared.map((row) => noteItem(row, "shared"))
    : [h("li", { class: "empty" }, "Nothing shared with you yet.")]));
  main.querySelector('[data-testid="outbox"]').textContent =
    state.waiting ? `${state.waiting} upload${state.waiting > 1 ? "s" : ""} waiting` : "";
}

function noteItem(row, kind) {
  const status = kind === "mine" ? row.status : row.error ? row.error.code : "shared";
  return h("li", { test: "note-item", data: { root: row.root, kind, status } },
    h("button", { type: "button", class: "note-link", onclick: () => openNote(row, kind) },
      h("span", { class: "title" }, title(row.name)),
      h("span", { class: "meta" }, kind === "shared" ? `from ${row.author ? author(row) : shown(row.sender || "?").slice(0, 14) + "…"} · ` : "",
        when(row.created)),
      h("span", { class: "badge " + status }, status === "uploaded" ? "saved" : status === "queued" ? "waiting" : status)));
}

// --- one note --------------------------------------------------------------------------------
async function openNote(row, kind) {
  const viewer = main.querySelector('[data-testid="viewer"]');
  viewer.hidden = false;
  viewer.dataset.root = row.root;
  viewer.dataset.state = "opening";
  viewer.replaceChildren(h("h2", {}, title(row.name)), h("p", { class: "quiet" }, "Opening…"));
  let note;
  try {
    note = await readNote(row.root);
  } catch (error) {
    viewer.dataset.state = "failed";
    viewer.replaceChildren(h("h2", {}, title(row.name)), failure(error, "note-error"));
    if (kind === "shared" && error.code !== "unavailable") {  // revoked, expired ...: the list says so too
      state.described.set(row.root, { ...state.described.get(row.root), error });
      scheduleRefresh();
    }
    return;
  }
  if (kind === "shared" && note.author) {  // the list says who wrote it from now on
    state.described.set(row.root, { ...state.described.get(row.root), author: note.author });
    const listed = state.shared.find((s) => s.root === row.root);
    if (listed && !listed.author) { listed.author = note.author; render(); }
  }
  viewer.replaceChildren(...[
    h("h2", { test: "note-view-title" }, shown(note.title)),
    h("p", { class: "quiet", test: "note-meta" }, kind === "shared" ? `from ${author(note)} · ` : "", when(note.created)),
    h("div", { class: "note-body", test: "note-body" }, note.text),
    note.attachment ? attachmentRow(note.attachment) : null,
    kind === "mine" ? await shareBox({ ...row, attachment: note.attachment }) : null].filter(Boolean));
  viewer.dataset.state = "open";
  viewer.scrollIntoView({ block: "nearest" });
}

function attachmentRow(attachment) {
  const status = h("span", { class: "status" });
  return h("div", { class: "attachment", test: "attachment" },
    h("span", { class: "file" }, h("span", { class: "clip" }, "Attached"), shown(attachment.name), h("span", { class: "quiet" }, ` · ${size(attachment.size)}`)),
    h("button", { type: "button", test: "attachment-download", onclick: async () => {
      status.replaceChildren();
      try {
        await download(attachment);
      } catch (error) {
        status.replaceChildren(failure(error, "download-error"));
      }
    } }, "Download"), status);
}

// Streamed through the app's worker (nothing held whole in this page) when it controls the
// page; else opened here into a Blob (e.g. the first visit, before the worker took over).
async function download(attachment) {
  const link = h("a", { hidden: true });
  if (mk.background.streaming_urls) {
    link.href = await mk.openUrl(attachment.root, { as: me.name, name: attachment.name, download: true });
  } else {
    const opened = await mk.open(attachment.root, { as: me.name });
    link.href = URL.createObjectURL(opened.blob);
    link.download = opened.saveAs;
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }
  document.body.append(link);
  link.click();
  link.remove();
}

async function shareBox(note) {
  const to = h("input", { placeholder: "Contact link or mk… id", test: "share-to", "aria-label": "Share with" });
  const status = h("div", { class: "status", test: "share-status" });
  const list = h("ul", { class: "access", test: "access" });
  const fill = async () => {
    let access;
    try {
      access = await mk.access(note.root, { as: me.name });
    } catch (error) {
      list.replaceChildren(h("li", {}, failure(error, "access-error")));
      return;
    }
    // One line per teammate: a share to someone with an account is one capsule per device of
    // theirs plus one for their account's recovery key ("<account>.recovery", no name).
    const accountOf = new Map((await mk.contacts.list().catch(() => [])).map((c) => [c.id, c]));
    const people = new Map();
    for (const share of access.shares) {
      const contact = accountOf.get(share.to);
      const key = contact && contact.account ? contact.account : share.to.replace(/\.recovery$/, "");
      const person = people.get(key) || { name: key, to: key, states: new Set() };
      if (share.name) Object.assign(person, { name: share.name, to: share.to });  // a device we know by name
      person.states.add(share.state);
      people.set(key, person);
    }
    list.replaceChildren(...[...people.values()].map((person) => {
      const live = person.states.has("live");
      return h("li", { test: "access-row", data: { to: person.to, state: live ? "live" : [...person.states][0] } },
        h("span", {}, shown(person.name).slice(0, 28)),
        h("span", { class: "badge " + (live ? "uploaded" : "revoked") }, live ? "can read" : [...person.states][0]),
        live ? h("button", { type: "button", class: "danger", test: "revoke", onclick: async (event) => {
          event.target.disabled = true;
          try {
            await mk.revoke(note.root, { from: me.name, to: person.to });
            if (note.attachment) await mk.revoke(note.attachment.root, { from: me.name, to: person.to });
          } catch (error) {
            status.replaceChildren(failure(error, "revoke-error"));
          }
          await fill();
        } }, "Revoke") : null);
    }));
    if (!people.size) list.replaceChildren(h("li", { class: "empty" }, "Only you can read this note."));
  };
  const box = h("form", { class: "share", test: "share-form", onsubmit: async (event) => {
    event.preventDefault();
    status.replaceChildren("Sharing…");
    try {
      await shareNote(note, to.value);
      status.replaceChildren("Shared.");
      to.value = "";
    } catch (error) {
      status.replaceChildren(failure(error, "share-error"));
    }
    await fill();
  } },
  h("h3", {}, "Who can read it"), list,
  h("div", { class: "copy" }, to, h("button", { type: "submit", test: "share-go" }, "Share")),
  status);
  if (note.status === "queued") {
    list.replaceChildren(h("li", { class: "empty" }, "Waiting to upload: share it once it is saved."));
  } else {
    await fill();
  }
  return box;
}

boot();
