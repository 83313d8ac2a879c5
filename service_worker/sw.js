// MeshKit's service worker: a module worker. build.py fills in the release's base path, build id and
// precache list, and BUNDLES it: the sw.js it serves is this file with everything it imports
// (meshkit.js, integrity.js, Pyodide's two modules) inlined, so it imports nothing.
//
// - The worker's code is pinned as the page's is. A worker has no import map, so modules it
//   imported would run unchecked: hence the bundle. sw.js itself is an entry point (as
//   index.html): the page checks its bytes against the hash index.html carries before it
//   registers it, at /sw.js?release=<BUILD>, and the worker refuses a URL of another release.
//   Every other file it loads (the precache at install; Pyodide's wasm, stdlib, lock file and
//   our wheels at boot) is checked against INTEGRITY, written into this file by the build. A
//   mismatch refuses, for good, before Core starts (so before any key is read or used): the
//   install fails, or every later event does, and pages are told (a "worker" message).
// - Precaches the app shell, Pyodide and our wheels at install, so the app starts offline.
// - Runs the same Core wheel in Pyodide, with the identities and non-extractable keys of the
//   same IndexedDB, booted lazily on first need.
// - Background Sync "meshkit-outbox:<time>": uploads staged jobs (retry with backoff, exactly once),
//   then checks the mailbox; periodic sync "meshkit-mailbox" checks the mailbox.
// - GET /meshkit/open/<token>: the plaintext as a stream, each block's CID verified before it
//   is decrypted; a failure midway errors the stream (never silently short plaintext). Only
//   for a one-time capability a page of this app minted (postMessage "open-grant"): a random
//   256-bit token bound to root, identity id and options, kept in this worker's memory for
//   60 s and consumed on first use. Always an attachment of an inert type, sandboxed.
// - Every Response this worker makes carries the gateway's security headers (HEADERS,
//   from meshkit_web/gateway/headers.py via build.py).
//
// Pyodide rules for service workers: only a module worker works; no dynamic import(), so
// pyodide.asm.mjs is imported statically; no top-level await.
import createPyodideModule from "{{RELEASE}}/pyodide/pyodide.asm.mjs";
import { loadRuntime, unwrap } from "{{RELEASE}}/app/meshkit.js";
import { saveName } from "{{RELEASE}}/app/names.js";

const BUILD = "{{BUILD}}";
const BASE = "{{BASE}}";
const CACHE = "meshkit-{{BUILD}}";
const PRECACHE = {{PRECACHE}};
const INTEGRITY = {{INTEGRITY}}; // SHA-384 (SRI) of every release file, fixed at build time
const HEADERS = {{HEADERS}};
const GATEWAY = "{{GATEWAY}}" || location.origin;
const OUTBOX_TAG = "meshkit-outbox";
const MAILBOX_TAG = "meshkit-mailbox";
const SYNC_BUDGET_S = 150; // Chromium ends a sync event after ~3 min; later retries are rescheduled

// --- refusing to run: a file that is not what was built ---------------------------------------
// Sticky: once refused, this worker runs nothing of Core, whatever event comes next.
let refusal = null;

function refuse(code, file, why) {
  if (!refusal) {
    refusal = { type: "worker", state: "refused", code, file,
      message: `${file} ${why}: this copy of MeshKit was altered after it was built; the service worker refuses to run it` };
    console.error(`meshkit worker: refused (${code}): ${refusal.message}`);
    tellPages(refusal);
  }
  return Object.assign(new Error(refusal.message), { code: refusal.code, file: refusal.file });
}

async function tellPages(message) {
  for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    client.postMessage(message);
  }
}

// Registered under another release's URL (a stale sw.js from some cache, or a page of another
// release): this worker's hashes are not the ones that page checks against.
const registeredFor = new URL(location.href).searchParams.get("release");
if (registeredFor !== BUILD) refuse("integrity", "sw.js", `is release ${BUILD}, registered as release ${registeredFor}`);

const b64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));
async function sha384(buffer) {
  return "sha384-" + b64(await crypto.subtle.digest("SHA-384", buffer));
}

// --- the worker's own fetches (Pyodide's wasm, stdlib, lock file, wheels) -------------------
// They bypass this worker's fetch handler, so consult the cache here: a worker restarted
// while offline must still boot. loadRuntime (meshkit.js) wraps this with its own check of
// every release file against the same hashes, so nothing reaches Pyodide unchecked.
const networkFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), location.href);
  if (url.origin === location.origin && url.pathname.startsWith(BASE + "/")) {
    const hit = await caches.match(url.href, { cacheName: CACHE });
    if (hit) return hit;
  }
  return networkFetch(input, init);
};

// One precached file: a release file must hash to its build hash (else refuse, for good);
// the entry points ("/", the manifest) are the origin's, as index.html and sw.js are.
async function precache(cache, path) {
  const response = await networkFetch(path, { cache: "no-cache" });
  if (!response.ok) throw new Error(`precache: ${path} answered ${response.status}`);
  const expected = INTEGRITY[path];
  if (!expected) return cache.put(path, response);
  const body = await response.arrayBuffer();
  if (await sha384(body) !== expected) throw refuse("integrity", path.slice(BASE.length + 1), "does not match its build hash");
  await cache.put(path, new Response(body, { status: response.status, statusText: response.statusText,
    headers: response.headers }));
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    if (refusal) throw refuse(refusal.code, refusal.file, "was refused");
    const cache = await caches.open(CACHE);
    try {
      await Promise.all(PRECACHE.map((path) => precache(cache, path)));
    } catch (error) {
      if (refusal) await caches.delete(CACHE); // nothing of a refused release is kept
      throw error;
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("meshkit-") && name !== CACHE) await caches.delete(name); // older releases
    }
    await self.clients.claim();
  })());
});

// --- Core in the worker -----------------------------------------------------------------------
let booting = null;
const timings = {};

function runtime() {
  if (refusal) return Promise.reject(refuse(refusal.code, refusal.file, "was refused"));
  if (!booting) {
    booting = boot().catch((error) => {
      booting = null; // try again on the next event (a file that did not match never is)
      throw error.code === "integrity" ? refuse("integrity", error.file || "a file", "does not match its build hash")
        : error;
    });
  }
  return booting;
}

// Core starts (and opens IndexedDB) only once every file it loads matched its hash.
async function boot() {
  const started = performance.now();
  const { py } = await loadRuntime({ gateway: GATEWAY, background: { mode: "service-worker" },
    createPyodideModule, release: new URL(BASE + "/", location.href) });
  timings.bootMs = performance.now() - started;
  return py;
}

async function call(method, ...args) {
  const py = await runtime();
  return unwrap(await py[method](...args));
}

// --- background sync: the outbox, then the mailbox ------------------------------------------
async function drainOutbox(lastChance) {
  const state = await call("outbox_run", lastChance ? 20 : SYNC_BUDGET_S);
  await call("mailbox_check").catch(() => {}); // offline or no identity yet: next time
  // Jobs still waiting for a retry: fail the event so the browser schedules another sync
  // (its own backoff). They stay in IndexedDB either way; the page kicks them on start.
  if (state === "pending" && !lastChance) throw new Error("outbox jobs are waiting for a retry");
}

// Failures are logged by code only (messages could name files or identities).
const logged = (what, promise) => promise.catch((error) => {
  console.warn(`meshkit worker: ${what} failed (${error.code || error.name})`);
  throw error;
});

self.addEventListener("sync", (event) => {
  if (event.tag.startsWith(OUTBOX_TAG)) event.waitUntil(logged("outbox", drainOutbox(event.lastChance)));
  else if (event.tag === MAILBOX_TAG) event.waitUntil(logged("mailbox check", call("mailbox_check")));
});

self.addEventListener("periodicsync", (event) => {
  if (event.tag === MAILBOX_TAG) event.waitUntil(logged("mailbox check", call("mailbox_check")));
});

// A page asks directly (e.g. the benchmark's cold boot, or "status"), or mints an open link.
self.addEventListener("message", (event) => {
  const reply = (message) => event.ports[0] && event.ports[0].postMessage(message);
  if (event.origin !== location.origin) return; // only this app's own pages (always, but say so)
  if (event.data && event.data.type === "open-grant") {
    reply(mintGrant(event.data));
  } else if (event.data && event.data.type === "boot") {
    event.waitUntil(runtime().then(() => reply({ ok: true, timings }),
      (e) => reply({ ok: false, code: e.code, file: e.file, message: String(e.message || e) })));
  } else if (event.data && event.data.type === "state") {
    reply(refusal || { type: "worker", state: "ok", build: BUILD });
  }
});

// --- security headers on this worker's own Responses ------------------------------------------
function secured(headers, csp) {
  const result = new Headers(headers);
  for (const [name, value] of Object.entries(HEADERS.common)) result.set(name, value); // replace, never append
  result.set("Content-Security-Policy", csp);
  return result;
}

// A network or cached response with the headers enforced (the cached shell, the manifest).
async function withHeaders(response, csp) {
  if (!response || response.type === "error" || response.type === "opaqueredirect") return response;
  const headers = Object.fromEntries(response.headers.entries());
  return new Response(response.body, { status: response.status, statusText: response.statusText,
    headers: secured(headers, csp) });
}

// --- one-time capabilities for streamed opens ---------------------------------------------------
// A download grant is one use in 60 s. A "play" grant (a <video>/<audio> source, which the
// media player fetches again for every seek) may be used for 30 minutes, only with the
// media type of an inert audio or video type, and never as an attachment.
const GRANT_TTL_MS = 60_000;
const PLAY_TTL_MS = 30 * 60_000;
const MAX_GRANTS = 256;
const grants = new Map(); // token -> {root, identity, name, mediaType, download, play, expires}

function mintGrant({ root, identity, name, mediaType, download, play, ttlMs }) {
  if (typeof root !== "string" || !root || typeof identity !== "string" || !identity) {
    return { ok: false, code: "invalid_argument", message: "open-grant needs a root and an identity id" };
  }
  const now = Date.now();
  const longest = play ? PLAY_TTL_MS : GRANT_TTL_MS;
  const ttl = Math.min(longest, Math.max(1, Number(ttlMs) || longest)); // shorter on request, never longer
  for (const [token, grant] of grants) {
    // expired, or an earlier player's source for the same file (one per file and identity)
    if (grant.expires <= now || (play && grant.play && grant.root === root && grant.identity === identity)) grants.delete(token);
  }
  if (grants.size >= MAX_GRANTS) return { ok: false, code: "limit_exceeded", message: "too many open links at once" };
  const bytes = crypto.getRandomValues(new Uint8Array(32)); // 256 bits: unguessable
  const token = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  grants.set(token, { root, identity, name: String(name || ""), mediaType: String(mediaType || ""),
    download: !!download && !play, play: !!play, expires: now + ttl });
  return { ok: true, url: `/meshkit/open/${token}`, expires: now + ttl };
}

// The grant for a token: a download grant is removed on the first look whatever happens
// next (one use only); a play grant stays until it expires.
function takeGrant(token) {
  const grant = grants.get(token);
  if (!grant || !grant.play) grants.delete(token);
  return grant && grant.expires > Date.now() ? grant : null;
}

// One byte range of RFC 9110 14.1.2 ("bytes=a-b", "bytes=a-", "bytes=-n") as [start, end);
// null for none or a form we do not serve (then the whole file, 200); "unsatisfiable" (416).
function parseRange(header, size) {
  if (!header) return null;
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start, end;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size;
    if (Number(match[2]) === 0) return "unsatisfiable";
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1);
    if (match[2] !== "" && Number(match[2]) < start) return null; // invalid: ignored (RFC 9110 14.2)
  }
  return start >= size ? "unsatisfiable" : { start, end };
}

// Only types that cannot run script in a browser keep their type; the rest are bytes.
function inertType(requested) {
  const type = String(requested || "").split(";")[0].trim().toLowerCase();
  return HEADERS.inert_types.includes(type) ? type : "application/octet-stream";
}

// --- fetch: offline shell and streaming opens -----------------------------------------------
const STATUS = {{ERROR_STATUS}}; // Core's error registry (core/errors.py), written in by build.py

function errorResponse(code, message) {
  return new Response(JSON.stringify({ error: code, message }), {
    status: STATUS[code] || 500,
    headers: secured({ "Content-Type": "application/json", "Cache-Control": "no-store" }, HEADERS.strict_csp),
  });
}

async function streamOpen(request, url) {
  // The URL is the capability: nothing in it but the token counts (no root, name or type).
  const grant = takeGrant(url.pathname.slice("/meshkit/open/".length));
  if (!grant) {
    return errorResponse("forbidden", "this open link is unknown, already used or expired: open the file from the app again");
  }
  // the size is the signed header's: ask for the range once it is known
  let opened;
  let range = null;
  try {
    opened = await call("open_stream", grant.root, grant.identity);
    range = parseRange(request.headers.get("Range"), opened.size);
    if (range && range !== "unsatisfiable") unwrap(await opened.reader.select(range.start, range.end));
  } catch (error) {
    if (opened && opened.reader) opened.reader.destroy();
    return errorResponse(error.code || "internal", error.message);
  }
  if (range === "unsatisfiable") {
    opened.reader.destroy();
    return new Response(null, { status: 416, headers: secured({ "Content-Range": `bytes */${opened.size}`,
      "Cache-Control": "no-store" }, HEADERS.plaintext_csp) });
  }
  const reader = opened.reader;
  const stream = new ReadableStream({
    async pull(controller) {
      let segment;
      try {
        segment = unwrap(await reader.read());
      } catch (error) {
        // e.g. cid_mismatch, segment_auth_failed, missing_block: abort, never truncate quietly
        controller.error(new Error(`${error.code}: ${error.message}`));
        reader.destroy();
        return;
      }
      if (segment === null || segment === undefined) {
        controller.close();
        reader.destroy();
      } else {
        controller.enqueue(segment);
      }
    },
    async cancel() {
      await reader.cancel();
      reader.destroy();
    },
  }, { highWaterMark: 1 }); // one segment queued: memory stays flat whatever the size
  // Decrypted bytes are never active content on this origin: always an attachment, an inert
  // type or octet-stream, sandboxed with nothing allowed to load (even if rendered somehow).
  // the sender's file name as Core made it safe to save under (core/metadata.py), else the app's
  // A play grant is shown inline by a media element, so only as audio or video.
  const name = saveName(opened.saveAs || grant.name, "meshkit-download");  // no control, format or bidi character
  const type = inertType(grant.mediaType || opened.type);
  const inline = grant.play && /^(audio|video)\//.test(type);
  const length = range ? range.end - range.start : opened.size;
  const headers = secured({
    "Content-Type": grant.play && !inline ? "application/octet-stream" : type,
    "Content-Length": String(length),
    "Accept-Ranges": "bytes",
    ...(range ? { "Content-Range": `bytes ${range.start}-${range.end - 1}/${opened.size}` } : {}),
    "Content-Disposition": `${inline ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(name)}`,
    "Cache-Control": "no-store",
    "X-MeshKit-Sender": opened.sender,
  }, HEADERS.plaintext_csp);
  return new Response(stream, { status: range ? 206 : 200, headers });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/meshkit/open/")) {
    event.respondWith(streamOpen(request, url));
  } else if (url.pathname.startsWith(BASE + "/")) {
    // the immutable release: cache first
    event.respondWith(caches.match(request, { cacheName: CACHE }).then((hit) => hit || networkFetch(request)));
  } else if (request.mode === "navigate" || url.pathname === "/manifest.webmanifest") {
    // entry points: the network's newest, the precached copy when offline or the server is down
    const csp = url.pathname === "/" || url.pathname === "/index.html" ? HEADERS.app_csp : HEADERS.strict_csp;
    event.respondWith(networkFetch(request).catch(async () =>
      (await caches.match(request.mode === "navigate" ? "/" : request, { cacheName: CACHE, ignoreSearch: true }))
      || Response.error()).then((response) => withHeaders(response, csp)));
  }
  // everything else (the gateway's API) goes to the network untouched
});
