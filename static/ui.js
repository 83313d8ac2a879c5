// The MeshKit app: one module per view, put together here. Four places, reached from the
// navigation (tabs on a desktop, a bar at the bottom of a phone): Files, Shared with me,
// Contacts, Settings. Plain DOM; every piece of user-provided text goes through textContent
// (dom.js el()).
import { contactsView } from "./contacts.js";
import { detailsDialog } from "./details.js";
import { accountCard, joinCard } from "./devices.js";
import { el, formatDate, shortId } from "./dom.js";
import { feedback } from "./feedback.js";
import { filesView } from "./files.js";
import { identityView } from "./identity.js";
import { inboxView } from "./inbox.js";
import { recoveryKit } from "./kit.js";
import { recoveryCard } from "./recovery.js";
import { opener as makeOpener } from "./open.js";
import { placesStore } from "./places.js";
import { sealView } from "./seal.js";
import { receivedView } from "./send.js";
import { settingsView } from "./settings.js";

const VIEWS = [["files", "Files"], ["shared", "Shared with me"], ["contacts", "Contacts"], ["settings", "Settings"]];

export function render(root, meshkit) {
  const state = { identities: [], contacts: [], current: localStorage.getItem("meshkit.identity") || "" };
  // the app's worker serves streamed opens once it controls this page (on a first visit,
  // shortly after boot: the lists are redrawn when MeshKit reports it took over)
  const streaming = () => !!(meshkit.background && meshkit.background.streaming_urls);
  const use = async (name) => {
    state.current = name;
    localStorage.setItem("meshkit.identity", name);
    await refreshAll();
  };

  const header = el("header", { class: "top" }, el("h1", {}, el("img", { src: new URL("icons/icon.svg", import.meta.url).href,
    alt: "", width: "28", height: "28" }), " MeshKit"),
  el("p", {}, "End-to-end-encrypted file sharing. Keys never leave this browser."));
  const { alertBox, notice, showError, say, guarded } = feedback(root, header);
  const offlineBanner = el("p", { class: "offline", role: "status", testid: "offline", hidden: true },
    "You are offline: your files are shown as last synced. New uploads wait in the outbox and go when you are back online.");

  const places = placesStore(meshkit);
  let inbox = null;
  const opener = makeOpener(meshkit, { state, guarded, say, streaming, onClosed: (closedRoot, code) => inbox.closed(closedRoot, code) });
  const details = detailsDialog(meshkit, { state, guarded, say, opener });
  // confirmed: account-wide, so every identity's state is read again
  const kit = recoveryKit(meshkit, { el, guarded, say, onConfirmed: () => refreshAll().then(() => settings.render()) });
  const settings = settingsView(meshkit, { state, guarded, say, kit });
  const recovery = recoveryCard(meshkit, { state, guarded, say, kit });
  const identity = identityView(meshkit, { state, guarded, say, onSwitched: use, onCreated: async (made) => {
    // shown this once, before anything else redraws (the reminder stays away while it shows)
    if (made.recoveryPhrase) kit.show(made.name, made);
    await use(made.name);
  } });
  const account = accountCard(meshkit, { el, guarded, say, formatDate, shortId, onChange: () => settings.render() });
  const join = joinCard(meshkit, { el, guarded, say, onJoined: async (name) => { await use(name); settings.render(); } });
  const received = receivedView(meshkit, { guarded, say });
  const contacts = contactsView(meshkit, { state, guarded, say, places, onAdded: () => refreshAll() });
  let files = null;
  const seal = sealView(meshkit, { state, guarded, say, showError,
    onSealed: (env, folder) => files.place(env.root, folder),
    onChange: () => Promise.all([files.render(), seal.renderJobs()]) });
  files = filesView(meshkit, { state, guarded, say, places, opener, details, upload: seal });
  inbox = inboxView(meshkit, { state, guarded, opener, places, onIdentity: () => refreshAll() });

  // --- navigation ---------------------------------------------------------------------------
  const views = {
    files: el("div", { class: "grid view", "data-view": "files" }, files.card, seal.outboxCard),
    shared: el("div", { class: "grid view", "data-view": "shared" }, inbox.card),
    contacts: el("div", { class: "grid view", "data-view": "contacts" }, contacts.card),
    settings: el("div", { class: "grid view", "data-view": "settings" }, identity.card, join.card, account.card, recovery.card, settings.card),
  };
  const tabs = Object.fromEntries(VIEWS.map(([key, label]) => [key, el("button", { type: "button", class: "tab",
    testid: `nav-${key}`, "data-view": key, onclick: () => show(key, true) }, el("span", {}, label),
  key === "shared" ? inbox.badge : null)]));
  const nav = el("nav", { class: "nav", "aria-label": "MeshKit", testid: "nav" }, ...Object.values(tabs));
  function show(key, focus, remember = true) {
    if (!views[key]) key = "files";
    if (remember) sessionStorage.setItem("meshkit.view", key);
    for (const [name, view] of Object.entries(views)) view.hidden = name !== key;
    for (const [name, tab] of Object.entries(tabs)) {
      if (name === key) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
    }
    if (key === "shared") inbox.seen();
    if (focus) {  // the view's heading, so a screen reader says where it is
      const heading = views[key].querySelector("h2");
      if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
      window.scrollTo({ top: 0 });
    }
  }

  // A file the worker loads is not what was built: it runs nothing, this page uploads. Said
  // once, whether the worker refused before this view was drawn or after.
  let refusalShown = false;
  function workerRefused(refused) {
    if (refusalShown) return;
    refusalShown = true;
    showError({ code: refused.code, detailed: true, message: `The background worker refused to run: ${refused.file}, ` +
      "one of its files, does not match its build hash (altered on the way?). Uploads go on while this page is open." },
    "Background work is off");
    settings.render();
  }

  function drawOffline() {
    offlineBanner.hidden = navigator.onLine && !files.offline;
  }
  window.addEventListener("online", () => { drawOffline(); files.render().then(drawOffline); places.load(state.current).catch(() => {}); });
  window.addEventListener("offline", drawOffline);

  // the worker and other tabs report progress: redraw the lists at most every 300 ms
  let redraw = null;
  meshkit.onChange((message) => {
    if (message.type === "inbox" && message.identity === state.current) {
      say(message.new === 1 ? "Something new was shared with you: see “Shared with me”."
        : `${message.new} new shares in “Shared with me”.`);
      inbox.announce(message.new, !views.shared.hidden);
    } else if (message.type === "worker" && message.state === "refused") {
      workerRefused(message);
    } else if (message.type === "background") {
      // the worker took over (first visit): the lists gain their streamed-open buttons
      Promise.all([files.render(), inbox.render()]);
      settings.render();
    } else if (message.type === "job") {
      seal.jobChanged(message.job);
      if (!redraw) {
        redraw = setTimeout(() => {
          redraw = null;
          seal.renderJobs();
          files.render();  // a queued or finished upload changes its row's status
        }, 300);
      }
    }
  });

  let wasFirst = false;
  async function refreshAll() {
    inbox.reset();
    state.identities = await guarded("Listing identities", () => meshkit.identity.list(), { background: true }) || [];
    state.contacts = await guarded("Listing contacts", () => meshkit.contacts.list(), { background: true }) || [];
    if (!state.identities.some((i) => i.name === state.current)) state.current = state.identities[0]?.name || "";
    localStorage.setItem("meshkit.identity", state.current);
    const me = state.identities.find((i) => i.name === state.current);
    // the first run lasts until this browser has an account: a device still being linked has
    // an identity of its own, and must stay on the linking screen
    const first = !state.identities.some((i) => i.account);
    document.documentElement.dataset.firstRun = String(first);
    if (first) show("settings", false, false); else if (wasFirst) show("files");  // the first run is sign-up; then the files
    wasFirst = first;
    identity.render(me);
    join.card.hidden = !!(me && me.account);
    seal.renderRecipients();
    contacts.render();
    await places.load(state.current).catch((error) => showError(error, "Reading your folders"));
    await Promise.all([account.render(me), files.render(), inbox.render(), seal.renderJobs(), recovery.render()]);
    drawOffline();
  }

  root.replaceChildren(header, nav, offlineBanner, alertBox, notice,
    el("div", { class: "grid first" }, received.card, kit.card), ...Object.values(views), details.dialog);
  show(sessionStorage.getItem("meshkit.view") || "files");

  settings.render();
  // (a send link's secret left the address bar before anything ran: link.js holds it)
  window.addEventListener("hashchange", () => { contacts.offer() && show("contacts"); account.offer() && show("settings"); });
  received.offer();
  refreshAll().then(() => {
    inbox.watch();
    if (contacts.offer()) show("contacts");
    if (account.offer()) show("settings");
    document.documentElement.dataset.meshkitUi = "ready";
    return meshkit.capabilities();
  }).then((report) => {
    // the worker refused: MeshKit's report says so, or the app did not register sw.js at all
    const refused = report.background.refused || (meshkit.refusedWorker && { code: "integrity", file: "sw.js" });
    if (refused) workerRefused(refused);
  }, () => {});
}
