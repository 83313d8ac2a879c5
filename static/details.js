// A file's details, in a dialog: what it is, who can open it (per person, each with Stop
// sharing), sharing with a person, its send links (opens used, expiry, Stop), and the people
// it was encrypted for, which cannot be taken back. Technical details fold away.
import { el, focusSpot, formatDate, formatSize, refocus, setText, shortId } from "./dom.js";
import { clearPreviews, playable, previewable } from "./open.js";
import { sendLinkControls } from "./send.js";

const EXPIRIES = [["", "never expires"], ["1h", "for 1 hour"], ["1d", "for 1 day"], ["7d", "for 7 days"]];
const LINK_STATES = { live: "works", used_up: "used up", expired: "expired", revoked: "stopped" };

// a person as the app shows them: the account's name and fingerprint when known
export const personName = (p) => p.accountName || p.name || shortId(p.account || p.to || p.id);

export function detailsDialog(meshkit, { state, guarded, say, opener }) {
  const body = el("div", { class: "details-body" });
  const title = el("h2", { id: "details-h" }, "");
  const close = el("button", { type: "button", class: "link close", testid: "details-close", "aria-label": "Close details",
    onclick: () => dialog.close() }, "×");
  const dialog = el("dialog", { class: "details", testid: "details", "aria-labelledby": "details-h" },
    el("div", { class: "details-head" }, title, close), body);
  let current = null;
  dialog.addEventListener("close", () => {
    clearPreviews(body);
    body.replaceChildren();
    const back = current && current.returnFocus;
    const spot = current && current.returnSpot;
    current = null;
    // the list may have been redrawn while the dialog was open: the same control of the same row
    if (back && back.isConnected) back.focus();
    else refocus(spot);
  });

  // the people to share with, read when the dialog opens: never an empty list while loading
  function shareForm(env, refresh) {
    const select = el("select", { "aria-label": `Share ${env.name} with`, testid: "share-to", disabled: true },
      el("option", { value: "" }, "Loading your contacts…"));
    meshkit.contacts.list().catch(() => state.contacts).then((people) => {
      state.contacts = people;
      select.replaceChildren(el("option", { value: "" }, people.length ? "Choose a person…" : "No contacts yet"),
        ...people.map((c) => el("option", { value: c.id }, `${personName(c)} (${shortId(c.accountFingerprint || c.fingerprint)})`)));
      select.disabled = !people.length;
    });
    const expiry = el("select", { "aria-label": "Share expires", testid: "share-expiry" },
      ...EXPIRIES.map(([value, label]) => el("option", { value }, label)));
    const share = el("button", { type: "submit", testid: "share" }, "Share");
    return el("form", { class: "share", onsubmit: (event) => {
      event.preventDefault();
      return guarded(`Sharing ${env.name}`, async () => {
        if (!select.value) throw { code: "invalid_argument", message: "choose a person (add them under Contacts first)" };
        await meshkit.share(env.root, { from: state.current, to: select.value, expires: expiry.value || undefined });
        say(`Shared “${env.name}” with ${select.selectedOptions[0].textContent}.`);
        await refresh();
      });
    } }, select, expiry, share);
  }

  // who can open it: header recipients (for good) and shares grouped per person (revocable)
  async function accessList(env) {
    const access = await guarded(`Listing who can open ${env.name}`, () => meshkit.access(env.root, { as: state.current }));
    if (!access) return el("p", { class: "hint" }, "Who can open it cannot be told right now.");
    const me = state.identities.find((i) => i.name === state.current) || {};
    const mine = (p) => (me.account && p.account === me.account) || p.id === me.id || p.to === me.id;
    const persons = new Map();
    for (const share of access.shares.filter((s) => !s.link)) {
      const key = share.account || share.to;
      const person = persons.get(key) || { key, to: share.account || share.to, label: personName(share), fingerprint: share.accountFingerprint,
        states: new Set(), expires: null };
      person.states.add(share.state);
      if (share.state === "live") person.expires = share.expires || person.expires;
      persons.set(key, person);
    }
    const forever = new Map();
    for (const r of access.recipients.filter((r) => !mine(r))) forever.set(r.account || r.id, personName(r));
    // post-quantum (X-Wing) or classic (X25519) entries: a file is only as strong as its weakest
    const classic = new Set(access.recipients.filter((r) => r.suite !== "x-wing")
      .map((r) => (mine(r) ? "you" : personName(r))));
    const suite = el("p", { class: "hint", testid: "access-suite", "data-classic": String(classic.size) },
      classic.size ? `Classic encryption (not post-quantum) for: ${[...classic].join(", ")}. Their browser or ` +
        "app had no post-quantum keys when it was sent." : "Post-quantum encryption for everyone it was encrypted for.");
    const shared = [...persons.values()].map((p) => {
      const live = p.states.has("live");
      return el("li", { testid: "access-share", "data-state": live ? "live" : [...p.states][0] },
        el("span", {}, el("strong", {}, p.label), " ",
          el("small", {}, live ? (p.expires ? `can open until ${formatDate(p.expires)}` : "can open")
            : p.states.has("revoked") ? "sharing stopped" : "share expired")),
        live ? el("button", { type: "button", class: "danger", testid: "stop-sharing", "aria-label": `Stop sharing with ${p.label}`,
          onclick: () => guarded(`Stopping sharing with ${p.label}`, async () => {
            await meshkit.revoke(env.root, { from: state.current, to: p.to });  // reaches the whole account
            say(`Stopped sharing “${env.name}” with ${p.label}: their next open fails.`);
            await renderAccess(env);
          }) }, "Stop sharing") : null);
    });
    return el("div", {}, suite,
      el("ul", { class: "access", testid: "access-list" }, shared.length ? shared
        : el("li", { class: "hint" }, "Not shared with anyone: only you can open it.")),
      forever.size ? el("div", { testid: "access-forever" }, el("h4", {}, "Also encrypted for (cannot be taken back)"),
        el("p", { class: "hint" }, "You chose these people when uploading: the file was encrypted for them, so they " +
          "can open it for good."),
        el("ul", { class: "access" }, ...[...forever.values()].map((label) => el("li", { testid: "access-recipient" }, label))))
        : null);
  }

  const accessSpot = el("div", { testid: "access-spot" });
  async function renderAccess(env) {
    accessSpot.replaceChildren(el("p", { class: "hint", role: "status" }, "Looking up who can open it…"));
    const shown = await accessList(env);
    if (current && current.env === env) accessSpot.replaceChildren(shown);
  }

  const linksSpot = el("div", { testid: "links-spot" });
  async function renderLinks(env) {
    const links = meshkit.sendLinks.list
      ? await guarded("Listing links", () => meshkit.sendLinks.list(env.root, { as: state.current }), { background: true }) || [] : [];
    if (!current || current.env !== env) return;
    linksSpot.replaceChildren(el("ul", { class: "access", testid: "links" }, ...links.map((link) => el("li",
      { testid: "link-row", "data-state": link.state },
      el("span", {}, `Link made ${formatDate(link.created)} · `, el("strong", {}, LINK_STATES[link.state] || link.state),
        el("small", {}, ` · opened ${link.opensUsed || 0}${link.opens ? ` of ${link.opens}` : ""} time${link.opens === 1 ? "" : "s"}` +
          (link.expires ? ` · until ${formatDate(link.expires)}` : ""))),
      link.state === "live" ? el("button", { type: "button", class: "danger", testid: "link-row-stop",
        onclick: () => guarded("Stopping the link", async () => {
          await meshkit.sendLinks.revoke(link.capsule, { from: state.current });
          say(`That link for “${env.name}” no longer opens.`);
          await renderLinks(env);
        }) }, "Stop") : null))));
  }

  // then: "play" or "preview" at once, in the dialog (a stable place: list redraws leave it be)
  function show(env, returnFocus, then) {
    current = { env, returnFocus, returnSpot: focusSpot(returnFocus) };
    setText(title, env.name || "A file");  // through shown(): no bidi or control character as it is
    const facts = el("dl", { class: "facts" },
      el("dt", {}, "Size"), el("dd", {}, formatSize(env.size)),
      el("dt", {}, "Added"), el("dd", {}, formatDate(env.created)),
      env.folder !== undefined ? [el("dt", {}, "Folder"), el("dd", {}, env.folder || "My files")] : null);
    const actions = el("div", { class: "row actions" },
      el("button", { type: "button", testid: "details-open", onclick: () => opener.download(env.root, env.name) }, "Open"),
      opener.streaming() ? el("button", { type: "button", class: "secondary", testid: "details-save",
        onclick: () => opener.save(env.root, env.name) }, "Save") : null,
      opener.streaming() && playable(env.type) ? el("button", { type: "button", class: "secondary", testid: "details-play",
        onclick: () => opener.play(env.root, env.name, env.type, shownSpot) }, "Play") : null,
      previewable(env.type, env.size) ? el("button", { type: "button", class: "secondary", testid: "details-preview",
        onclick: () => opener.preview(env.root, env.name, shownSpot) }, "Preview") : null);
    // what plays or is previewed goes right under the buttons that asked for it
    const shownSpot = el("div", { testid: "shown-spot" });
    const refresh = () => renderAccess(env);
    const linkForm = sendLinkControls(meshkit, env, { state, guarded, say, onMade: () => renderLinks(env) });
    body.replaceChildren(facts, actions, shownSpot,
      el("section", { "aria-labelledby": "who-can-h" }, el("h3", { id: "who-can-h" }, "Who can open it"), accessSpot,
        shareForm(env, refresh)),
      el("section", { "aria-labelledby": "links-h" }, el("h3", { id: "links-h" }, "Links for anyone"),
        el("p", { class: "hint" }, "Whoever has a link can download the file, no account needed."), linksSpot, linkForm),
      el("details", { class: "tech" }, el("summary", {}, "Technical details"),
        el("dl", { class: "facts" }, el("dt", {}, "Root CID"), el("dd", {}, el("code", { testid: "details-root" }, env.root)),
          el("dt", {}, "Type"), el("dd", {}, env.type || "unknown"))));
    if (!dialog.open) dialog.showModal();
    if (then === "play") opener.play(env.root, env.name, env.type, shownSpot);
    if (then === "preview") opener.preview(env.root, env.name, shownSpot);
    renderAccess(env);
    renderLinks(env);
  }

  return { dialog, show };
}
