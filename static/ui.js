// The MeshKit app: one module per view, put together here. Plain DOM; every piece of
// user-provided text goes through textContent (dom.js el()).
import { contactsView } from "./contacts.js";
import { accountCard, joinCard } from "./devices.js";
import { el, formatDate, shortId } from "./dom.js";
import { envelopesView } from "./envelopes.js";
import { feedback } from "./feedback.js";
import { identityView } from "./identity.js";
import { inboxView } from "./inbox.js";
import { recoveryKit } from "./kit.js";
import { sealView } from "./seal.js";
import { receivedView } from "./send.js";
import { settingsView } from "./settings.js";

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

  const kit = recoveryKit(meshkit, { el, guarded, say, onConfirmed: () => settings.render() });
  const settings = settingsView(meshkit, { state, guarded, say, kit });
  const identity = identityView(meshkit, { state, guarded, say, onSwitched: use, onCreated: async (made) => {
    // shown this once, before anything else redraws (the reminder stays away while it shows)
    if (made.recoveryPhrase) kit.show(made.name, made);
    await use(made.name);
  } });
  const account = accountCard(meshkit, { el, guarded, say, formatDate, shortId, onChange: () => settings.render() });
  const join = joinCard(meshkit, { el, guarded, say, onJoined: async (name) => { await use(name); settings.render(); } });
  const received = receivedView(meshkit, { guarded, say });
  const contacts = contactsView(meshkit, { state, guarded, say, onAdded: () => refreshAll() });
  const seal = sealView(meshkit, { state, guarded, say, showError,
    onChange: () => Promise.all([envelopes.render(), seal.renderJobs()]) });
  let inbox = null;
  const envelopes = envelopesView(meshkit, { state, guarded, say, streaming,
    onClosed: (closedRoot, code) => inbox.closed(closedRoot, code) });
  inbox = inboxView(meshkit, { state, guarded, download: envelopes.download, play: envelopes.play, streaming,
    playable: envelopes.playable, onIdentity: () => refreshAll() });

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

  // the worker and other tabs report progress: redraw the lists at most every 300 ms
  let redraw = null;
  meshkit.onChange((message) => {
    if (message.type === "inbox" && message.identity === state.current) {
      say(message.new === 1 ? "Something new was shared with you: see “Shared with me”."
        : `${message.new} new shares in “Shared with me”.`);
      inbox.announce(message.new);
    } else if (message.type === "worker" && message.state === "refused") {
      workerRefused(message);
    } else if (message.type === "background") {
      // the worker took over (first visit): the lists gain their streamed-open buttons
      Promise.all([envelopes.render(), inbox.render()]);
      settings.render();
    } else if (message.type === "job") {
      seal.jobChanged(message.job);
      if (!redraw) {
        redraw = setTimeout(() => {
          redraw = null;
          seal.renderJobs();
          envelopes.render(); // a queued or finished upload changes its row's status
        }, 300);
      }
    }
  });

  async function refreshAll() {
    inbox.reset();
    state.identities = await guarded("Listing identities", () => meshkit.identity.list()) || [];
    state.contacts = await guarded("Listing contacts", () => meshkit.contacts.list()) || [];
    if (!state.identities.some((i) => i.name === state.current)) state.current = state.identities[0]?.name || "";
    localStorage.setItem("meshkit.identity", state.current);
    const me = state.identities.find((i) => i.name === state.current);
    document.documentElement.dataset.firstRun = String(!state.identities.length);
    identity.render(me);
    join.card.hidden = !!(me && me.account);
    seal.renderRecipients();
    contacts.render();
    await Promise.all([account.render(me), envelopes.render(), inbox.render(), seal.renderJobs()]);
  }

  root.replaceChildren(header, alertBox, notice,
    el("div", { class: "grid" }, received.card, kit.card, identity.card, join.card, account.card, contacts.card, inbox.card, seal.card,
      seal.outboxCard, envelopes.card, settings.card));

  settings.render();
  // (a send link's secret left the address bar before anything ran: link.js holds it)
  window.addEventListener("hashchange", () => { contacts.offer(); account.offer(); });
  received.offer();
  refreshAll().then(() => {
    inbox.watch();
    contacts.offer();
    account.offer();
    document.documentElement.dataset.meshkitUi = "ready";
    return meshkit.capabilities();
  }).then((report) => {
    // the worker refused: MeshKit's report says so, or the app did not register sw.js at all
    const refused = report.background.refused || (meshkit.refusedWorker && { code: "integrity", file: "sw.js" });
    if (refused) workerRefused(refused);
  }, () => {});
}
