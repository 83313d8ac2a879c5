// "Files": the account's files as a small file manager. Folders, search, sort, multi-select,
// a per-file menu, a trash that can be emptied, and the usage meter. The files come from the
// package (meshkit.envelopes: this device's and the account's library); where each file is
// (folder, trash) is the account's "places" record (places.js), so it is the same on every
// device. Each row has few controls (select, details, Open, the menu): 50 files stay usable
// from the keyboard.
import { el, formatSize, keepingFocus } from "./dom.js";
import { fileChanges } from "./file-changes.js";
import { fileRow, folderRow } from "./file-rows.js";
import { baseName, folderPath, inside, parentOf } from "./places.js";

const SORTS = { name: "Name", date: "Date", size: "Size" };

export function filesView(meshkit, { state, guarded, say, places, opener, details, upload }) {
  let folder = "";          // the folder shown ("" is "My files")
  let query = "";
  let sort = localStorage.getItem("meshkit.sort") || "date";
  let showTrash = false;
  let files = [];           // the last list from meshkit.envelopes
  let offline = false;
  const selected = new Set();
  const changes = fileChanges(meshkit, { state, guarded, say, places, view: {
    files: () => files, folder: () => folder, render: () => render(),
    done: () => { selected.clear(); draw(); },
  } });

  const search = el("input", { type: "search", testid: "search", placeholder: "Search files", "aria-label": "Search files",
    oninput: () => { query = search.value.trim().toLowerCase(); draw(); } });
  const sortSelect = el("select", { testid: "sort", "aria-label": "Sort by", onchange: () => {
    sort = sortSelect.value;
    localStorage.setItem("meshkit.sort", sort);
    draw();
  } }, ...Object.entries(SORTS).map(([value, label]) => el("option", { value, selected: value === sort }, `Sort: ${label}`)));
  const folderName = el("input", { testid: "folder-name", "aria-label": "Name of the new folder", maxlength: "120",
    autocomplete: "off", placeholder: "Folder name" });
  const folderForm = el("form", { class: "row", hidden: true, testid: "folder-form", onsubmit: (event) => {
    event.preventDefault();
    return guarded("New folder", async () => {
      const name = folderName.value.trim();
      if (!name) return;
      const path = folderPath((folder ? folder + "/" : "") + name.replace(/\//g, " "));
      await places.update((d) => { if (!d.folders.includes(path)) d.folders.push(path); });
      folderName.value = "";
      folderForm.hidden = true;
      say(`Folder “${baseName(path)}” made.`);
      newFolder.focus();
    });
  } }, folderName, el("button", { type: "submit", testid: "folder-create" }, "Make folder"),
  el("button", { type: "button", class: "link", onclick: () => { folderForm.hidden = true; newFolder.focus(); } }, "Cancel"));
  const newFolder = el("button", { type: "button", class: "secondary", testid: "new-folder",
    onclick: () => { folderForm.hidden = false; folderName.focus(); } }, "New folder");
  const trashButton = el("button", { type: "button", class: "link", testid: "trash-view", "aria-pressed": "false",
    onclick: () => { showTrash = !showTrash; selected.clear(); draw(); } }, "Trash");
  const meter = el("meter", { testid: "usage-meter", min: "0", max: "1", value: "0", "aria-label": "Storage used", hidden: true });
  const meterText = el("span", { class: "hint", testid: "usage-text" });
  const crumbs = el("nav", { class: "crumbs", "aria-label": "Folder", testid: "crumbs" });
  const body = el("tbody", { testid: "envelopes" });
  const selectAll = el("input", { type: "checkbox", testid: "select-all",
    onchange: () => { visibleFiles().forEach((f) => (selectAll.checked ? selected.add(f.root) : selected.delete(f.root))); draw(); } });
  const moveTo = el("select", { testid: "move-to", id: "move-to-select" });
  const bulk = el("div", { class: "bulk", testid: "bulk", hidden: true, role: "region", "aria-label": "Selected files" });
  const trashInfo = el("p", { class: "hint", testid: "trash-info", hidden: true });

  const card = el("section", { class: "card wide files", "aria-labelledby": "files-h", testid: "files" },
    el("div", { class: "files-head" }, el("h2", { id: "files-h" }, "Files"),
      el("div", { class: "usage" }, meter, meterText)),
    el("div", { class: "toolbar" }, upload.buttons, newFolder, search, sortSelect, trashButton),
    folderForm, upload.options, upload.status,
    el("div", { class: "where" }, crumbs, el("label", { class: "check" }, selectAll, "Select all")), trashInfo, bulk,
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { class: "sel" }, el("span", { class: "visually-hidden" }, "Selected")), el("th", {}, "Name"), el("th", {}, "Size"),
        el("th", {}, "Added"), el("th", {}, el("span", { class: "visually-hidden" }, "Actions")))),
      body)),
    opener.progress);

  // --- what is shown ---------------------------------------------------------------------
  const where = (f) => places.data.placed[f.root] || "";
  const trashed = (f) => f.root in places.data.trash;
  const compare = {
    name: (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }),
    date: (a, b) => (b.created || 0) - (a.created || 0),
    size: (a, b) => (b.size || 0) - (a.size || 0),
  };
  function visibleFiles() {
    const shown = files.filter((f) => showTrash ? trashed(f) : !trashed(f))
      .filter((f) => showTrash || (query ? f.name.toLowerCase().includes(query) : where(f) === folder));
    return shown.sort(compare[sort] || compare.date);
  }
  function subfolders() {
    if (showTrash || query) return [];
    const kids = new Set(places.data.folders.filter((p) => parentOf(p) === folder));
    // a folder named only by where a file is (made on another device, not listed yet)
    for (const f of files) {
      const at = where(f);
      if (!trashed(f) && at && inside(at, folder) && at !== folder) kids.add(at.split("/").slice(0, (folder ? folder.split("/").length : 0) + 1).join("/"));
    }
    return [...kids].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  function go(path) {
    folder = path;
    selected.clear();
    showTrash = false;
    draw();
  }

  function drawCrumbs() {
    const parts = folder ? folder.split("/") : [];
    const items = [el("button", { type: "button", class: "link", testid: "crumb", "aria-current": !folder && !showTrash ? "page" : null,
      onclick: () => { search.value = query = ""; go(""); } }, "My files")];
    parts.forEach((part, i) => {
      const path = parts.slice(0, i + 1).join("/");
      items.push(el("span", { "aria-hidden": "true" }, " / "), el("button", { type: "button", class: "link", testid: "crumb",
        "aria-current": i === parts.length - 1 ? "page" : null, onclick: () => go(path) }, part));
    });
    if (showTrash) items.push(el("span", { "aria-hidden": "true" }, " / "), el("strong", {}, "Trash"));
    if (query && !showTrash) items.push(el("span", {}, ` · results for “${query}”`));
    crumbs.replaceChildren(...items);
  }

  function drawBulk() {
    const count = selected.size;
    bulk.hidden = !count;
    if (!count) return;
    const targets = ["", ...places.data.folders];
    moveTo.replaceChildren(...targets.map((p) => el("option", { value: p }, p || "My files")));
    bulk.replaceChildren(...[el("strong", { testid: "bulk-count" }, count === 1 ? "1 selected" : `${count} selected`),
      showTrash ? [
        el("button", { type: "button", class: "secondary", testid: "bulk-restore", onclick: () => changes.restore([...selected]) }, "Restore"),
        el("button", { type: "button", class: "danger", testid: "bulk-delete-forever",
          onclick: () => changes.deleteForever(files.filter((f) => selected.has(f.root))) }, "Delete for good"),
      ] : [
        el("label", { class: "visually-hidden", for: "move-to-select" }, "Move to"), moveTo,
        el("button", { type: "button", class: "secondary", testid: "bulk-move", onclick: () => changes.move([...selected], moveTo.value) }, "Move"),
        el("button", { type: "button", class: "danger", testid: "bulk-delete", onclick: () => changes.toTrash([...selected]) }, "Delete"),
      ],
      el("button", { type: "button", class: "link", testid: "bulk-clear", onclick: () => { selected.clear(); draw(); } }, "Clear")].flat());
  }

  function draw() {
    trashButton.setAttribute("aria-pressed", String(showTrash));
    const inTrash = files.filter(trashed).length;
    trashButton.textContent = inTrash ? `Trash (${inTrash})` : "Trash";
    drawCrumbs();
    const shown = visibleFiles();
    const kids = subfolders();
    for (const root of [...selected]) if (!shown.some((f) => f.root === root)) selected.delete(root);
    selectAll.checked = shown.length > 0 && shown.every((f) => selected.has(f.root));
    trashInfo.hidden = !showTrash;
    trashInfo.replaceChildren(...(showTrash ? [inTrash ? "Files in the trash still count against your storage, and " +
      "the people you shared them with can still open them, until you delete them for good. " : "The trash is empty.",
    inTrash ? el("button", { type: "button", class: "danger", testid: "empty-trash",
      onclick: () => changes.deleteForever(files.filter(trashed)) }, "Empty trash") : null].filter(Boolean) : []));
    const empty = !shown.length && !kids.length;
    const row = { opener, details, where, changes, selected, onSelected: drawBulk, inTrash: showTrash, searching: !!query,
      selectOnly: (root) => { selected.clear(); selected.add(root); draw(); moveTo.focus(); } };
    const count = (path) => files.filter((f) => !trashed(f) && inside(where(f), path)).length;
    // a menu open while the list redraws (an upload's progress, another device) stays open
    const opened = body.querySelector(".menu:not([hidden])");
    const openRoot = opened && opened.closest("tr") && opened.closest("tr").dataset.root;
    keepingFocus(body, () => {
      body.replaceChildren(...kids.map((path) => folderRow(path, count(path), { go, changes })),
        ...shown.map((f) => fileRow(f, row)), ...(empty ? [el("tr", {}, el("td", { colspan: "5", class: "hint",
        testid: "files-empty" }, showTrash ? "Nothing in the trash." : query ? "No file matches."
        : folder ? "This folder is empty: drop files here to add them." : "No files yet: drop files anywhere on this page, or press Upload."))] : []));
      const again = openRoot && [...body.querySelectorAll("tr[data-root]")].find((tr) => tr.dataset.root === openRoot);
      if (again && again.querySelector("[data-testid=menu]")) again.querySelector("[data-testid=menu]").click();
    });
    drawBulk();
  }

  async function renderUsage() {
    if (!meshkit.usage || !state.current) return;
    const usage = await meshkit.usage(state.current).catch(() => null);
    if (!usage) return;
    const used = usage.stored ?? 0;
    const quota = usage.storageQuota;
    meter.max = quota || Math.max(used, 1);
    meter.value = used;
    meter.hidden = !quota;
    meterText.textContent = quota ? `${formatSize(used)} of ${formatSize(quota)} used` : `${formatSize(used)} used`;
  }

  let renders = 0;  // only the latest of overlapping renders draws
  async function render() {
    const mine = ++renders;
    if (!state.current) { files = []; return draw(); }
    const list = await guarded("Listing files", () => meshkit.envelopes(state.current), { background: true }) || [];
    if (mine !== renders) return;
    files = list;
    offline = list.some((f) => f.cached);
    draw();
    renderUsage();
  }
  places.onChange(() => draw());

  return { card, render, draw, place: changes.place, get offline() { return offline; }, renderUsage };
}
