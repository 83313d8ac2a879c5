// One row of "Files": a file (select, its name opening its details, Open, and a menu) or a
// folder. Few controls per row, so a long list stays short to Tab through.
import { el, formatDate, formatSize } from "./dom.js";
import { baseName } from "./places.js";
import { playable, previewable } from "./open.js";

// The "⋯" menu: its items are buttons; arrows move, Escape closes (focus back on ⋯).
function fileMenu(f, { opener, details, where, changes, selectOnly }) {
  const items = el("div", { class: "menu", role: "menu", hidden: true, testid: "file-menu" });
  const button = el("button", { type: "button", class: "secondary more", testid: "menu", "aria-haspopup": "menu",
    "aria-expanded": "false", "aria-label": `More for ${f.name}`, onclick: () => (items.hidden ? open() : close()) }, "⋯");
  const item = (label, testid, action, extra = {}) => el("button", { type: "button", role: "menuitem", testid, ...extra,
    onclick: () => { close(); action(); } }, label);
  function open() {
    document.querySelectorAll(".menu:not([hidden])").forEach((m) => m.previousSibling && m.previousSibling.click());
    items.hidden = false;
    button.setAttribute("aria-expanded", "true");
    items.querySelector("button").focus();
  }
  function close(refocus) {
    items.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  }
  items.addEventListener("keydown", (event) => {
    const buttons = [...items.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") { event.preventDefault(); close(true); }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      buttons[(at + (event.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length].focus();
    }
  });
  items.addEventListener("focusout", (event) => { if (!items.contains(event.relatedTarget) && event.relatedTarget !== button) close(); });
  const withFolder = { ...f, folder: where(f) };
  items.append(
    opener.streaming() ? item("Save (for big files)", "save-streamed", () => opener.save(f.root, f.name)) : null,
    opener.streaming() && playable(f.type) ? item("Play", "play", () => details.show(withFolder, button, "play")) : null,
    previewable(f.type, f.size) ? item("Preview", "preview-file", () => details.show(withFolder, button, "preview")) : null,
    item("Share and links…", "share-open", () => details.show(withFolder, button)),
    item("Move to…", "move", () => selectOnly(f.root)),
    item("Delete", "delete", () => changes.toTrash([f.root]), { class: "danger" }));
  return [button, items];
}

// ctx: {opener, details, where, changes, selected, onSelected, selectOnly, inTrash, searching}
export function fileRow(f, ctx) {
  const { opener, details, where, changes, selected } = ctx;
  const queued = f.status === "queued";
  const box = el("input", { type: "checkbox", testid: "select", "aria-label": `Select ${f.name}`, checked: selected.has(f.root),
    onchange: () => { (box.checked ? selected.add(f.root) : selected.delete(f.root)); ctx.onSelected(); } });
  const nameCell = el("td", { class: "name" },
    el("button", { type: "button", class: "link file-name", testid: "details-button", "aria-label": `Details of ${f.name}`,
      onclick: (event) => details.show({ ...f, folder: where(f) }, event.currentTarget) }, f.name),
    queued ? el("span", { class: "badge warn" }, " uploading") : null,
    f.cached ? el("span", { class: "badge warn", title: "As last synced: this device is offline" }, " offline copy") : null,
    ctx.searching && where(f) ? el("small", { class: "hint" }, ` in ${where(f)}`) : null);
  const actions = ctx.inTrash ? el("td", { class: "actions" },
    el("button", { type: "button", class: "secondary", testid: "restore", onclick: () => changes.restore([f.root]) }, "Restore"),
    el("button", { type: "button", class: "danger", testid: "delete-forever", onclick: () => changes.deleteForever([f]) },
      "Delete for good"))
    : queued ? el("td", { class: "actions hint" }, "Open and share once uploaded.")
      : el("td", { class: "actions" },
        el("button", { type: "button", testid: "open", onclick: () => opener.download(f.root, f.name) }, "Open"),
        ...fileMenu(f, ctx));
  return el("tr", { testid: "envelope-row", "data-root": f.root, "data-status": f.status || "uploaded" },
    el("td", { class: "sel" }, box), nameCell, el("td", {}, formatSize(f.size)), el("td", {}, formatDate(f.created)), actions);
}

export function folderRow(path, count, { go, changes }) {
  return el("tr", { testid: "folder-row", "data-folder": path },
    el("td", { class: "sel" }), el("td", { class: "name" }, el("button", { type: "button", class: "link folder", testid: "folder-open",
      onclick: () => go(path) }, baseName(path))),
    el("td", {}, count === 1 ? "1 file" : `${count} files`), el("td", {}),
    el("td", { class: "actions" }, el("button", { type: "button", class: "danger", testid: "folder-delete",
      "aria-label": `Delete folder ${baseName(path)}`, onclick: () => changes.deleteFolder(path) }, "Delete")));
}
