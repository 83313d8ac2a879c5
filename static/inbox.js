// "Shared with me": what others shared or sealed to me, named from inside each envelope and
// by the person (account name) who sent it, updated by itself while the page is open; a
// share that closed says so and keeps its name. Items can be dismissed (account-wide: the
// "places" record), and shown again.
import { el, formatDate, formatSize, keepingFocus, shortId } from "./dom.js";
import { playable, previewable } from "./open.js";
import { personName } from "./details.js";
import { ERRORS } from "../meshkit.js";  // Core's error registry, from the package

const INBOX_POLL_MS = 3000;
const CLOSED = new Set(["revoked", "expired", "policy_denied", "not_recipient"]);  // for good, or until changed

export function inboxView(meshkit, { state, guarded, opener, places, onIdentity }) {
  const inboxList = el("ul", { class: "inbox", testid: "inbox" });
  const badge = el("span", { class: "badge", testid: "inbox-new", hidden: true });
  const announcer = el("span", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  let showDismissed = false;
  const dismissedToggle = el("button", { type: "button", class: "link", testid: "inbox-show-dismissed", "aria-pressed": "false",
    onclick: () => { showDismissed = !showDismissed; dismissedToggle.setAttribute("aria-pressed", String(showDismissed)); renderInbox(); } },
  "Show dismissed");
  // New shares show up by themselves while the page is open and visible: a light look at
  // the gateway's mailbox every few seconds (unread notices only). Whoever sees a message
  // first in this browser (this look, another tab, the worker) announces it (the runtime's
  // {type: "inbox", new} message), and the app calls announce().
  async function watchInbox() {
    if (!state.current) {  // an identity made elsewhere (another tab, the API): leave the first run
      const made = await meshkit.identity.list().catch(() => []);
      if (made.length) await onIdentity();
    } else if (document.visibilityState === "visible") {
      await meshkit.inbox(state.current).catch(() => null);
    }
    setTimeout(watchInbox, INBOX_POLL_MS);
  }
  let unseen = 0;
  async function announce(count, looking) {
    if (!looking) {
      unseen += count;
      badge.textContent = `${unseen} new`;
      badge.hidden = false;
    }
    announcer.textContent = count === 1 ? "1 new file shared with you" : `${count} new files shared with you`;
    await renderInbox();
  }
  const seen = () => { unseen = 0; badge.hidden = true; };
  const card = el("section", { class: "card wide", "aria-labelledby": "inbox-h" },
    el("div", { class: "files-head" }, el("h2", { id: "inbox-h" }, "Shared with me"),
      el("span", {}, el("button", { type: "button", class: "link", testid: "inbox-refresh", onclick: () => renderInbox() }, "Refresh"),
        dismissedToggle)),
    announcer, inboxList);

  const descriptions = new Map();  // root -> {name, type, size, ...}; a failure is not kept
  async function describe(root) {
    if (!descriptions.has(root)) {
      const what = await meshkit.describe(root, { as: state.current }).catch((error) => ({ error: error.code }));
      if (what.error && !CLOSED.has(what.error)) return null;  // e.g. offline: ask again next time
      descriptions.set(root, what);
    }
    return descriptions.get(root);
  }
  // a share that closed keeps the name and size it was seen with: the item still says what it was
  const closedOver = (known, code) => ({ ...(known && !known.error ? { name: known.name, size: known.size } : known || {}),
    error: code });

  // who sent it: the person (account name, verified by Core through the account's chain), a
  // device id only when no account could be verified
  function sender(m) {
    if (m.senderName) return m.senderName + (m.senderFormerDevice ? " (from a removed device)" : "");
    const contact = state.contacts.find((c) => c.id === m.sender);
    return contact ? personName(contact) : shortId(m.sender || m.share.sharer);
  }
  const fingerprintOf = (m) => m.senderFingerprint || "";

  function item(m, what) {
    const root = m.share.root;
    const name = what && what.name ? what.name : shortId(root);
    const closed = !!(what && what.error);
    const dismissed = (m.id in places.data.dismissed) || (root in places.data.dismissed);
    const spot = el("li", { testid: "inbox-item", "data-root": root, "data-dismissed": String(dismissed) });
    const verified = !!m.senderAccount && places.data.verified[m.senderAccount] === fingerprintOf(m);
    spot.append(
      el("div", {}, el("strong", { testid: "inbox-name" }, name), " from ",
        el("span", { testid: "inbox-sender", title: fingerprintOf(m) ? `fingerprint ${fingerprintOf(m)}` : null }, sender(m)),
        verified ? el("span", { class: "badge", testid: "inbox-verified", title: "You compared this person's fingerprint" }, " ✓ verified") : null,
        closed ? el("span", { class: "badge warn", testid: "inbox-state" },
          ` ${(ERRORS[what.error] && ERRORS[what.error].message) || what.error}`) : null),
      el("small", {}, [what ? formatSize(what.size) : "", formatDate(m.created),
        m.share.expires ? `until ${formatDate(m.share.expires)}` : ""].filter(Boolean).join(" · ")),
      el("div", { class: "actions" },  // side by side: one never covers the other
        el("button", { type: "button", testid: "inbox-open", disabled: closed,  // a closed share does not look openable
          onclick: () => { seen(); return opener.download(root, what && what.name ? what.name : ""); } }, "Open"),
        !closed && what && opener.streaming() ? el("button", { type: "button", class: "secondary", testid: "inbox-save",
          onclick: () => opener.save(root, what.name || shortId(root)) }, "Save") : null,
        !closed && what && opener.streaming() && playable(what.type) ? el("button", { type: "button", class: "secondary",
          testid: "inbox-play", onclick: () => opener.play(root, what.name || shortId(root), what.type, spot) }, "Play") : null,
        !closed && what && previewable(what.type, what.size) ? el("button", { type: "button", class: "secondary",
          testid: "inbox-preview", onclick: () => opener.preview(root, what.name || shortId(root), spot) }, "Preview") : null,
        el("button", { type: "button", class: "link", "data-focus": "dismiss", testid: dismissed ? "inbox-undismiss" : "inbox-dismiss",
          "aria-label": `${dismissed ? "Show again" : "Dismiss"} ${name}`,
          onclick: () => guarded("Dismissing", () => places.update((d) => {
            if (dismissed) { delete d.dismissed[m.id]; delete d.dismissed[root]; } else d.dismissed[m.id] = Math.floor(Date.now() / 1000);
          })) }, dismissed ? "Show again" : "Dismiss")));
    return spot;
  }

  let renders = 0;  // only the latest of overlapping renders draws: nothing older shows last
  async function renderInbox() {
    const mine = ++renders;
    if (!state.current) return inboxList.replaceChildren();
    const messages = await guarded("Checking the inbox", () => meshkit.inbox(state.current, { all: true }), { background: true }) || [];
    const shares = messages.filter((m) => (m.kind === "share" || m.kind === "sealed") && m.share);
    // what each one is: its sealed metadata, read (and kept) once per envelope
    const described = await Promise.all(shares.map((m) => describe(m.share.root)));
    if (mine !== renders) return;
    const rows = shares.map((m, i) => [m, described[i]]).reverse()
      .filter(([m]) => showDismissed || !((m.id in places.data.dismissed) || (m.share.root in places.data.dismissed)));
    keepingFocus(inboxList, () => inboxList.replaceChildren(...(rows.length ? rows.map(([m, what]) => item(m, what))
      : [el("li", { class: "hint" }, shares.length ? "Nothing new: dismissed items are under “Show dismissed”."
        : "Nothing shared with you yet. Give people your contact link (under Contacts) so they can share with you.")])));
  }
  places.onChange(() => renderInbox());

  return {
    card, badge, render: renderInbox, watch: watchInbox, announce, seen,
    reset: seen,  // another identity: its own news from here on
    closed(root, code) { if (CLOSED.has(code)) descriptions.set(root, closedOver(descriptions.get(root), code)); },
  };
}
