// Small DOM helpers shared by the app's views. Every piece of text goes in as a text node
// (textContent), never as HTML, and through shown() (the package's text rules): no control, format or bidi
// character of a name reaches the screen as it is, whichever view shows it.
import { saveName, shown } from "../meshkit.js";

export { saveName, shown };

// attributes a person reads (a tooltip, what a screen reader says): shown() as text is
const READ = new Set(["title", "aria-label", "alt", "placeholder"]);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "testid") node.dataset.testid = value;
    else if (key === "download") node.setAttribute(key, saveName(value));
    else node.setAttribute(key, value === true ? "" : READ.has(key) ? shown(value) : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(shown(child)));
  }
  return node;
}

// node's text, as el() would put it
export function setText(node, text) {
  node.textContent = shown(text);
}

// a size as people read it; "" for what is no size (unknown, a closed share's): never "NaN"
export const formatSize = (n) => typeof n !== "number" || !Number.isFinite(n) || n < 0 ? ""
  : n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB`
  : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / (1 << 30)).toFixed(2)} GiB`;
export const formatDate = (s) => s ? new Date(s * 1000).toLocaleString() : "";
export const shortId = (id) => id && id.length > 14 ? id.slice(0, 8) + "…" + id.slice(-4) : id;

// Hand a Blob (plaintext that has fully authenticated) to the browser as a download under
// ``name``; the object URL lives a minute, long enough for the save to start.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: saveName(name, "meshkit-download") });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Where the focus is, said so it survives a redraw: the row's key (a file's root, a folder's
// path, a person's id) and the control's name (data-focus, else its testid). A list redrawn
// under the person (an upload's progress, another device, the control's own action) puts the
// focus back on the same control of the same row, never on <body>.
const ROW = "[data-root], [data-folder], [data-id]";
const rowKey = (row) => row.dataset.root ?? row.dataset.folder ?? row.dataset.id;

export function focusSpot(node) {
  const row = node && node.closest && node.closest(ROW);
  const control = node && node.dataset && (node.dataset.focus || node.dataset.testid);
  return row && control ? { key: rowKey(row), control } : null;
}

// the spot's control in ``scope``: in a row shown now (another view may hold the same key)
export function refocus(spot, scope = document) {
  if (!spot) return false;
  const name = CSS.escape(spot.control);
  for (const row of scope.querySelectorAll(ROW)) {
    if (rowKey(row) !== spot.key || row.closest("[hidden]")) continue;
    const target = row.querySelector(`[data-focus="${name}"], [data-testid="${name}"]`);
    if (target && !target.closest("[hidden]")) {
      target.focus();
      return true;
    }
  }
  return false;
}

// draw() replaces what ``scope`` holds (and may reopen a menu): the focus that was inside it
// goes back to the same control of the same row, while that row is still there
export function keepingFocus(scope, draw) {
  const spot = scope.contains(document.activeElement) ? focusSpot(document.activeElement) : null;
  draw();
  if (spot) refocus(spot, scope);
}
