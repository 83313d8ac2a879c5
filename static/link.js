// The first script of the page (index.html), before anything else of the app runs and long
// before Pyodide boots: a send link's secret (#send=…), or a device link's (#link=…: its
// nonce authenticates the linking, FORMAT.md 11.5), leaves the address bar and the
// session history at once (replaceState: the entry itself is rewritten, so Back, a restored
// tab or a bookmark of this page never has it), and is kept here, in memory only, until the
// visitor's view takes it. Nothing of it is ever stored (no storage, no IndexedDB, no log).
// The browser's own history database recorded the address it navigated to before any
// script could run: that copy is the browser's (README, "Send links").
const SECRET_FRAGMENTS = ["send", "link"];  // app links whose fragment is a secret
let held = null;
const waiting = new Set();

function hold() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!SECRET_FRAGMENTS.some((name) => params.has(name))) return false;
  held = location.hash.slice(1);
  history.replaceState(history.state, "", location.pathname + location.search);
  return true;
}

hold();
// a link pasted into the address bar of an open app: a new entry, rewritten the same way
addEventListener("hashchange", () => { if (hold()) waiting.forEach((listener) => listener()); });

// The held link's fragment ("send=…", "link=…") if it is a ``name`` link, once: whoever
// takes it keeps it.
export function takeLink(name) {
  if (held === null || !new URLSearchParams(held).has(name)) return null;
  const link = held;
  held = null;
  return link;
}

export function takeSendLink() {
  return takeLink("send");
}

// listener() runs when a link arrives after the page loaded (then takeSendLink()).
export function onSendLink(listener) {
  waiting.add(listener);
}
