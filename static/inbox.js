// "Shared with me": what others shared or sealed to me, named from inside each envelope,
// updated by itself while the page is open; a share that closed says so.
import { el, formatDate, formatSize, shortId } from "./dom.js";
import { ERRORS } from "../meshkit.js";  // Core's error registry, from the package

const INBOX_POLL_MS = 3000;

export function inboxView(meshkit, { state, guarded, download, play, streaming, playable, onIdentity }) {
  const inboxList = el("ul", { class: "inbox", testid: "inbox" });
  const inboxBadge = el("span", { class: "badge", testid: "inbox-new", hidden: true, "aria-live": "polite" });
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
  async function announce(count) {
    unseen += count;
    inboxBadge.textContent = `${unseen} new`;
    inboxBadge.hidden = false;
    await renderInbox();
  }
  const seen = () => { unseen = 0; inboxBadge.hidden = true; };
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
  // a share that closed keeps the name and size it was seen with: the item still says what it was
  const closedOver = (known, code) => ({ ...(known && !known.error ? { name: known.name, size: known.size } : known || {}),
    error: code });
  const CLOSED = new Set(["revoked", "expired", "policy_denied", "not_recipient"]);  // for good, or until changed

  let renders = 0;  // only the latest of overlapping renders draws: nothing older shows last
  async function renderInbox() {
    const mine = ++renders;
    if (!state.current) return inboxList.replaceChildren();
    const messages = await guarded("Checking the inbox", () => meshkit.inbox(state.current, { all: true })) || [];
    const shares = messages.filter((m) => (m.kind === "share" || m.kind === "sealed") && m.share);
    const names = Object.fromEntries(state.contacts.map((c) => [c.id, c.name]));
    // what each one is: its sealed metadata, read (and kept) once per envelope
    const described = await Promise.all(shares.map((m) => describe(m.share.root)));
    if (mine !== renders) return;
    inboxList.replaceChildren(...(shares.length ? shares.map((m, i) => [m, described[i]]).reverse().map(([m, what]) =>
      el("li", { testid: "inbox-item", "data-root": m.share.root },
        el("div", {}, el("strong", { testid: "inbox-name" }, what && what.name ? what.name : shortId(m.share.root)),
          " from ", el("span", {}, names[m.share.sharer] || shortId(m.share.sharer)),
          what && what.error ? el("span", { class: "badge warn", testid: "inbox-state" },
            ` ${(ERRORS[what.error] && ERRORS[what.error].message) || what.error}`) : null),
        el("small", {}, [what ? formatSize(what.size) : "", formatDate(m.created),
          m.share.expires ? `expires ${formatDate(m.share.expires)}` : ""].filter(Boolean).join(" · ")),
        el("div", { class: "actions" },  // side by side: one never covers the other
          el("button", { type: "button", testid: "inbox-open", onfocus: seen,
            disabled: !!(what && what.error),  // a revoked or expired share does not look openable
            onclick: () => { seen(); return download(m.share.root, what && what.name ? what.name : "", 0); } }, "Open"),
          what && !what.error && streaming() && playable(what.type) ? el("button", { type: "button", testid: "inbox-play",
            onclick: (event) => play(m.share.root, what.name || shortId(m.share.root), what.type, event.target.closest("li")) },
          "Play") : null)))
      : [el("li", { class: "hint" }, "Nothing shared with you yet.")]));
  }

  return {
    card: inboxCard, render: renderInbox, watch: watchInbox, announce,
    reset: seen,  // another identity: its own news from here on
    closed(root, code) { if (CLOSED.has(code)) descriptions.set(root, closedOver(descriptions.get(root), code)); },
  };
}
