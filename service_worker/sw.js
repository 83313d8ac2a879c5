// MeshKit's service worker: a module worker. build.py fills in the release's base path, build id and precache list.
//
// - Precaches the app shell, Pyodide and our wheels at install, so the app starts offline.
// - Runs the same Core wheel in Pyodide, with the identities and non-extractable keys of the
//   same IndexedDB, booted lazily on first need.
// - Background Sync "meshkit-outbox:<time>": uploads staged jobs (retry with backoff, exactly once),
//   then checks the mailbox; periodic sync "meshkit-mailbox" checks the mailbox.
// - GET /meshkit/open/<root>?as=<identity>[&name=..][&type=..][&download=1]: the plaintext as
//   a stream, each block's CID verified before it is decrypted; a failure midway errors the
//   stream (the reader sees a network error, never silently short plaintext).
//
// Pyodide rules for service workers: only a module worker works; no dynamic import(), so
// pyodide.asm.mjs is imported statically; no top-level await.
import createPyodideModule from "{{BASE}}/pyodide/pyodide.asm.mjs";
import { loadRuntime, unwrap } from "{{BASE}}/app/meshkit.js";

const BASE = "{{BASE}}";
const CACHE = "meshkit-{{BUILD}}";
const PRECACHE = {{PRECACHE}};
const OUTBOX_TAG = "meshkit-outbox";
const MAILBOX_TAG = "meshkit-mailbox";
const SYNC_BUDGET_S = 150; // Chromium ends a sync event after ~3 min; later retries are rescheduled

// --- the worker's own fetches (Pyodide's wasm, stdlib, lock file, wheels) -------------------
// They bypass this worker's fetch handler, so consult the cache here: a worker restarted
// while offline must still boot.
const networkFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), location.href);
  if (url.origin === location.origin && url.pathname.startsWith(BASE + "/")) {
    const hit = await caches.match(url.href, { cacheName: CACHE });
    if (hit) return hit;
  }
  return networkFetch(input, init);
};

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(PRECACHE);
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
  if (!booting) {
    booting = boot().catch((error) => {
      booting = null; // try again on the next event
      throw error;
    });
  }
  return booting;
}

async function boot() {
  const started = performance.now();
  const { py } = await loadRuntime({ gateway: location.origin, background: { mode: "service-worker" },
    createPyodideModule });
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

// A page asks directly (e.g. the benchmark's cold boot, or "status").
self.addEventListener("message", (event) => {
  const reply = (message) => event.ports[0] && event.ports[0].postMessage(message);
  if (event.data && event.data.type === "boot") {
    event.waitUntil(runtime().then(() => reply({ ok: true, timings }), (e) => reply({ ok: false, message: String(e) })));
  }
});

// --- fetch: offline shell and streaming opens -----------------------------------------------
const STATUS = {
  not_recipient: 403, forbidden: 403, policy_denied: 403, unauthorized: 401, revoked: 410, expired: 410,
  missing_block: 404, missing_metadata: 404, unknown_identity: 404, invalid_argument: 400, malformed: 502,
  cid_mismatch: 502, unavailable: 503, policy_unavailable: 503,
};

function errorResponse(code, message) {
  return new Response(JSON.stringify({ error: code, message }), {
    status: STATUS[code] || 500, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

async function streamOpen(request, url) {
  // Only this origin's own pages may ask (a link from another site must not start a download).
  if (request.referrer && new URL(request.referrer).origin !== location.origin) {
    return errorResponse("forbidden", "streaming opens are for this app's own pages");
  }
  const root = decodeURIComponent(url.pathname.slice("/meshkit/open/".length));
  const as = url.searchParams.get("as");
  if (!root || !as) return errorResponse("invalid_argument", "use /meshkit/open/<root>?as=<identity name>");
  let opened;
  try {
    opened = await call("open_stream", root, as);
  } catch (error) {
    return errorResponse(error.code || "internal", error.message);
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
  const headers = {
    "Content-Type": url.searchParams.get("type") || "application/octet-stream",
    "Content-Length": String(opened.size),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-MeshKit-Sender": opened.sender,
  };
  if (url.searchParams.get("download")) {
    const name = url.searchParams.get("name") || "meshkit-download";
    headers["Content-Disposition"] = `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
  }
  return new Response(stream, { headers });
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
    event.respondWith(networkFetch(request).catch(async () =>
      (await caches.match(request.mode === "navigate" ? "/" : request, { cacheName: CACHE, ignoreSearch: true }))
      || Response.error()));
  }
  // everything else (the gateway's API) goes to the network untouched
});
