// Where the account's files are: folders, which folder each file is in, the trash, the
// shares dismissed from "Shared with me" and the people marked verified. One app record of
// the account ("places", docs/SDK.md "App records"), so it follows every device; the last
// copy read is kept in localStorage for offline starts. Changes are small operations applied
// to the newest copy: a conflict (another device wrote first) reads again and applies again.
const RECORD = "places";
const EMPTY = () => ({ v: 1, folders: [], placed: {}, trash: {}, dismissed: {}, verified: {} });
const MAX_TRIES = 4;  // compare-and-swap rounds before giving up (another device keeps writing)

// Folder paths: "Photos/2024". Parts are trimmed, never empty, never "." or "..".
export function folderPath(text) {
  const parts = String(text || "").split("/").map((part) => part.trim()).filter(Boolean);
  if (parts.some((part) => part === "." || part === ".." || part.length > 120) || parts.length > 16) {
    throw { code: "invalid_argument", message: "a folder name is at most 120 characters, 16 levels deep" };
  }
  return parts.join("/");
}
export const parentOf = (path) => path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
export const baseName = (path) => path.slice(path.lastIndexOf("/") + 1);
export const inside = (path, folder) => path === folder || path.startsWith(folder + "/");

// a record from the gateway (or a cache) is hostile: keep only well-formed parts
function sane(value) {
  const out = EMPTY();
  if (!value || typeof value !== "object") return out;
  const table = (key, check) => {
    const given = value[key];
    if (!given || typeof given !== "object" || Array.isArray(given)) return;
    for (const [k, v] of Object.entries(given)) if (typeof k === "string" && check(v)) out[key][k] = v;
  };
  if (Array.isArray(value.folders)) {
    out.folders = [...new Set(value.folders.filter((f) => typeof f === "string").map((f) => {
      try { return folderPath(f); } catch { return ""; }
    }).filter(Boolean))].sort();
  }
  table("placed", (v) => typeof v === "string");
  table("trash", Number.isFinite);
  table("dismissed", Number.isFinite);
  table("verified", (v) => typeof v === "string");
  return out;
}

export function placesStore(meshkit) {
  let owner = "";
  let version = 0;
  let data = EMPTY();
  const cacheKey = () => `meshkit.places.${owner}`;
  const listeners = new Set();
  const changed = () => listeners.forEach((listener) => listener(data));

  function fromCache() {
    try {
      const kept = JSON.parse(localStorage.getItem(cacheKey()) || "null");
      return kept ? { version: kept.version || 0, data: sane(kept.data) } : null;
    } catch { return null; }
  }
  function keep() {
    try { localStorage.setItem(cacheKey(), JSON.stringify({ version, data })); } catch { /* full: next time */ }
  }

  // the newest copy: from the account (and kept), or the kept one while offline
  async function load(name) {
    owner = name || "";
    if (!owner) { data = EMPTY(); version = 0; return data; }
    try {
      const record = await meshkit.records.get(owner, RECORD);
      version = record ? record.version : 0;
      data = record ? sane(JSON.parse(record.text || "{}")) : EMPTY();
      keep();
    } catch (error) {
      const kept = fromCache();
      if (!kept || !["unavailable", "not_recipient"].includes(error.code)) {
        if (!kept) { data = EMPTY(); version = 0; }
        if (error.code !== "unavailable" && error.code !== "not_recipient") throw error;
      } else {
        ({ version, data } = kept);
      }
    }
    changed();
    return data;
  }

  // apply(data) changes a copy in place; written with compare-and-swap, applied again on conflict
  async function update(apply) {
    for (let round = 0; round < MAX_TRIES; round += 1) {
      const next = sane(JSON.parse(JSON.stringify(data)));
      apply(next);
      try {
        const written = await meshkit.records.put(owner, RECORD, JSON.stringify(next), { expectedVersion: version });
        version = written.version;
        data = next;
        keep();
        changed();
        return data;
      } catch (error) {
        if (error.code !== "conflict") throw error;
        await load(owner);
      }
    }
    throw { code: "busy", message: "another device keeps changing your folders: try again" };
  }

  return {
    load, update,
    get data() { return data; },
    onChange: (listener) => listeners.add(listener),
  };
}
