// What changes where files are: to the trash and back, moved, a folder deleted, deleted for
// good (mk.delete), and where new uploads go. Folders and the trash are the account's
// "places" record (places.js); only mk.delete touches the gateway.
import { baseName, folderPath, inside, parentOf } from "./places.js";

const PLACE_FLUSH_MS = 400;  // uploads of a folder land together: their places in one write

// view: {files(): the files listed, folder(): the one shown, done(): selection cleared and
// the list drawn again, render(): the list read again}
export function fileChanges(meshkit, { state, guarded, say, places, view }) {
  const where = (f) => places.data.placed[f.root] || "";
  const now = () => Math.floor(Date.now() / 1000);
  const named = (roots) => roots.length === 1
    ? `“${(view.files().find((f) => f.root === roots[0]) || {}).name || "the file"}”` : `${roots.length} files`;

  const toTrash = (roots) => guarded("Moving to the trash", async () => {
    const at = now();
    await places.update((d) => roots.forEach((root) => { d.trash[root] = at; }));
    view.done();
    say(`Moved ${named(roots)} to the trash. Restore from “Trash”, or delete for good there.`);
  });
  const restore = (roots) => guarded("Restoring", async () => {
    await places.update((d) => roots.forEach((root) => { delete d.trash[root]; }));
    view.done();
    say(`Restored ${named(roots)}.`);
  });
  const move = (roots, to) => guarded("Moving", async () => {
    await places.update((d) => roots.forEach((root) => { if (to) d.placed[root] = to; else delete d.placed[root]; }));
    view.done();
    say(`Moved ${named(roots)} to ${to || "My files"}.`);
  });
  const deleteFolder = (path) => guarded(`Deleting folder ${baseName(path)}`, async () => {
    const roots = view.files().filter((f) => inside(where(f), path)).map((f) => f.root);
    if (roots.length && !confirm(`Delete the folder “${baseName(path)}”? Its ${roots.length} file(s) go to the trash.`)) return;
    const at = now();
    await places.update((d) => {
      d.folders = d.folders.filter((p) => !inside(p, path));
      for (const root of roots) { d.trash[root] = at; delete d.placed[root]; }
    });
    say(`Deleted the folder “${baseName(path)}”` + (roots.length ? "; its files are in the trash." : "."));
  });
  // for good: shares and links stopped, unpinned, gone from the library, storage given back
  const deleteForever = (list) => guarded("Deleting", async () => {
    if (!list.length) return;
    if (!confirm(`Delete ${list.length === 1 ? `“${list[0].name}”` : `${list.length} files`} for good? Nobody will be able to open ` +
      (list.length === 1 ? "it" : "them") + " any more, and this cannot be undone.")) return;
    const gone = [];
    for (const f of list) {
      const done = await guarded(`Deleting ${f.name}`, () => meshkit.delete(f.root, { as: state.current }));
      if (done !== undefined) gone.push(f.root);
    }
    await places.update((d) => gone.forEach((root) => { delete d.trash[root]; delete d.placed[root]; }));
    view.done();
    say(`Deleted ${gone.length === 1 ? "1 file" : `${gone.length} files`} for good.`);
    await view.render();
  });

  // where new uploads go: batched, one write for a folder of files
  const pending = new Map();
  let flushTimer = null;
  function place(root, relativeFolder) {
    const path = folderPath([view.folder(), relativeFolder].filter(Boolean).join("/"));
    if (!path) return;
    pending.set(root, path);
    clearTimeout(flushTimer);
    flushTimer = setTimeout(() => {
      const batch = new Map(pending);
      pending.clear();
      guarded("Filing the upload", () => places.update((d) => {
        for (const [r, p] of batch) {
          d.placed[r] = p;
          for (let at = p; at; at = parentOf(at)) if (!d.folders.includes(at)) d.folders.push(at);
        }
      }));
    }, PLACE_FLUSH_MS);
  }

  return { toTrash, restore, move, deleteFolder, deleteForever, place };
}
