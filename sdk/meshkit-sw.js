// meshkit-sw.js: MeshKit Web's module for the app's OWN service worker. docs/SDK.md is its
// reference; index.d.ts its types.
//
//   import { createMeshKitWorker } from "/vendor/meshkit/meshkit-sw.js";
//   const mkw = createMeshKitWorker({ gateway: "https://gateway.example", namespace: "notes" });
//   self.addEventListener("install", (e) => e.waitUntil(mkw.install()));
//   self.addEventListener("activate", (e) => e.waitUntil(mkw.activate()));
//   self.addEventListener("fetch", (e) => { if (mkw.handleFetch(e)) return; /* the app's own */ });
//   self.addEventListener("sync", (e) => mkw.handleSync(e));
//   self.addEventListener("periodicsync", (e) => mkw.handlePeriodicSync(e));
//   self.addEventListener("message", (e) => mkw.handleMessage(e));
//
// Each handle* returns true when the event was MeshKit's (and is being handled), false when it
// is the app's. MeshKit answers only: GETs of its package files (cache first, for offline
// starts), streamed opens under `prefix`, sync tags and messages of its namespace. It never
// touches the app's pages, caches or other events, and never calls skipWaiting/claim.
//
// - Core runs in Pyodide here, with the identities and non-extractable keys of the pages of
//   the same namespace (same IndexedDB), booted lazily on first need.
// - Every file Core loads (and every file install() caches) is checked against the build's
//   SHA-384; a mismatch refuses, for good, before Core starts (so before any key is read or
//   used), and pages are told (a "worker" message of this namespace).
// - Background Sync "<prefix>outbox:<time>" uploads staged jobs (retry with backoff, exactly
//   once), then checks the mailbox; "<prefix>mailbox" (also periodic) checks the mailbox.
// - GET <prefix>open/<token>: the plaintext as a stream, each block's CID verified before it is
//   decrypted; a failure midway errors the stream (never silently short plaintext). Only for a
//   one-time capability a page of this namespace minted ("open-grant"): a random 256-bit token
//   bound to root, identity id and options, kept in this worker's memory, consumed on use.
//   Always an attachment of an inert type (or inline audio/video for "play"), sandboxed.
import { BUILD, DEFAULT_NAMESPACE, ERRORS, MeshKitError, expectedHash, fetchChecked, gatewayUrl, loadRuntime, namesOf,
  packageBase, packagePath, runtimeFiles, unwrap } from "./core.js";
import { HEADERS } from "./headers.js";
import { saveName } from "./text.js";

export { BUILD, MeshKitError };

const SYNC_BUDGET_S = 150; // Chromium ends a sync event after ~3 min; later retries are rescheduled
const GRANT_TTL_MS = 60_000;
const PLAY_TTL_MS = 30 * 60_000;
const MAX_GRANTS = 256;

function checkPrefix(prefix) {
  if (typeof prefix !== "string" || !/^\/([A-Za-z0-9._~-]+\/)*$/.test(prefix) || /(^|\/)\.\.?\//.test(prefix)) {
    throw new MeshKitError("invalid_argument", `prefix ${JSON.stringify(prefix)} must be a path such as "/meshkit/"`);
  }
  return prefix;
}

/**
 * MeshKit in the app's service worker. Options: gateway (URL; default this origin), namespace
 * (default "default"; the pages' createMeshKit must use the same), prefix (the path streamed
 * opens live under; default "/meshkit/" for the default namespace, "/meshkit/<namespace>/"
 * else), base (where the package is served, when this module was bundled into the app's
 * worker script; default: this module's folder).
 */
export function createMeshKitWorker({ gateway, namespace = DEFAULT_NAMESPACE, prefix, base } = {}) {
  const names = namesOf(namespace);
  const opens = checkPrefix(prefix || (namespace === DEFAULT_NAMESPACE ? "/meshkit/" : `/meshkit/${namespace}/`)) + "open/";
  const packageUrl = packageBase(base, import.meta.url);
  const gatewayHref = gatewayUrl(gateway, self.location.href);
  const networkFetch = globalThis.fetch.bind(globalThis);

  // --- refusing to run: a file that is not what was built ------------------------------------
  let refusal = null;
  const tellPages = async (message) => {
    for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) client.postMessage(message);
  };
  function refuse(code, file, why) {
    if (!refusal) {
      refusal = { meshkit: names.namespace, type: "worker", state: "refused", code, file,
        message: `${file} ${why}: this copy of MeshKit was altered after it was built; the service worker refuses to run it` };
      console.error(`meshkit worker: refused (${code}): ${refusal.message}`);
      tellPages(refusal);
    }
    return new MeshKitError(refusal.code, refusal.message, { file: refusal.file });
  }

  // A package file from this worker's cache (offline starts), else the network: Core's own
  // fetches bypass the fetch event, so loadRuntime's fetches come through here.
  const cachedFetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (packagePath(url, packageUrl) !== null) {
      const hit = await caches.match(url, { cacheName: names.cache });
      if (hit) return hit;
    }
    return networkFetch(input, init);
  };

  // --- Core in the worker -------------------------------------------------------------------
  let booting = null;
  const timings = {};
  function runtime() {
    if (refusal) return Promise.reject(refuse(refusal.code, refusal.file, "was refused"));
    if (!booting) {
      const started = performance.now();
      const inner = globalThis.fetch;
      globalThis.fetch = cachedFetch;  // loadRuntime checks what this returns against the build's hashes
      booting = loadRuntime({ gateway: gatewayHref, namespace: names.namespace, base: packageUrl,
        background: { mode: "service-worker" } })
        .then(({ py }) => { timings.bootMs = performance.now() - started; return py; })
        .catch((error) => {
          booting = null; // try again on the next event (a file that did not match never is)
          throw error.code === "integrity" ? refuse("integrity", error.file || "a file", "does not match its build hash") : error;
        })
        .finally(() => { if (globalThis.fetch === cachedFetch) globalThis.fetch = inner; });
    }
    return booting;
  }
  const call = async (method, ...args) => unwrap(await (await runtime())[method](...args));
  const logged = (what, promise) => promise.catch((error) => {
    console.warn(`meshkit worker: ${what} failed (${error.code || error.name})`);  // codes only: messages may name files
    throw error;
  });

  async function drainOutbox(lastChance) {
    const state = await call("outbox_run", lastChance ? 20 : SYNC_BUDGET_S);
    await call("mailbox_check").catch(() => {}); // offline or no identity yet: next time
    // Jobs still waiting for a retry: fail the event so the browser schedules another sync
    // (its own backoff). They stay in IndexedDB either way; a page kicks them on start.
    if (state === "pending" && !lastChance) throw new Error("outbox jobs are waiting for a retry");
  }

  // --- one-time capabilities for streamed opens ------------------------------------------------
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
    return { ok: true, url: opens + token, expires: now + ttl };
  }
  // A download grant is removed on the first look whatever happens next; a play grant stays
  // until it expires (the media element asks again for every seek).
  function takeGrant(token) {
    const grant = grants.get(token);
    if (!grant || !grant.play) grants.delete(token);
    return grant && grant.expires > Date.now() ? grant : null;
  }

  async function streamOpen(request, url) {
    const grant = takeGrant(url.pathname.slice(opens.length));  // the URL is the capability: nothing else in it counts
    if (!grant) {
      return errorResponse("forbidden", "this open link is unknown, already used or expired: open the file from the app again");
    }
    let opened;
    let range = null;
    try {
      opened = await call("open_stream", grant.root, grant.identity);
      range = parseRange(request.headers.get("Range"), opened.size);  // the size is the signed header's
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
    // Decrypted bytes are never active content on this origin: an attachment of an inert type
    // (or octet-stream), sandboxed; a play grant inline only as audio or video.
    const name = saveName(opened.saveAs || grant.name, "meshkit-download");
    const type = inertType(grant.mediaType || opened.type);
    const inline = grant.play && /^(audio|video)\//.test(type);
    const length = range ? range.end - range.start : opened.size;
    return new Response(stream, { status: range ? 206 : 200, headers: secured({
      "Content-Type": grant.play && !inline ? "application/octet-stream" : type,
      "Content-Length": String(length),
      "Accept-Ranges": "bytes",
      ...(range ? { "Content-Range": `bytes ${range.start}-${range.end - 1}/${opened.size}` } : {}),
      "Content-Disposition": `${inline ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(name)}`,
      "Cache-Control": "no-store",
      "X-MeshKit-Sender": opened.sender,
    }, HEADERS.plaintext_csp) });
  }

  // --- the app's events: true when MeshKit's -----------------------------------------------------
  function handleFetch(event) {
    const request = event.request;
    const url = new URL(request.url);
    if (request.method !== "GET" || url.origin !== self.location.origin) return false;
    if (url.pathname.startsWith(opens)) {
      event.respondWith(streamOpen(request, url));
      return true;
    }
    const path = packagePath(url.href, packageUrl);
    if (path !== null && expectedHash(path)) {
      // the files Core loads (immutable, content-addressed): this worker's cache first (offline starts)
      event.respondWith(caches.match(request, { cacheName: names.cache }).then((hit) => hit || networkFetch(request)));
      return true;
    }
    return false;
  }

  function handleSync(event) {
    if (event.tag.startsWith(names.outboxTag + ":") || event.tag === names.outboxTag) {
      event.waitUntil(logged("outbox", drainOutbox(event.lastChance)));
      return true;
    }
    if (event.tag === names.mailboxTag) {
      event.waitUntil(logged("mailbox check", call("mailbox_check")));
      return true;
    }
    return false;
  }

  function handlePeriodicSync(event) {
    if (event.tag !== names.mailboxTag) return false;
    event.waitUntil(logged("mailbox check", call("mailbox_check")));
    return true;
  }

  // Only messages of this namespace from this origin's pages; each answers on its port.
  function handleMessage(event) {
    const data = event.data;
    if (!data || typeof data !== "object" || data.meshkit !== names.namespace) return false;
    if (event.origin && event.origin !== self.location.origin) return true;  // MeshKit's, and refused
    const reply = (message) => event.ports[0] && event.ports[0].postMessage(message);
    if (data.type === "hello") {
      reply({ namespace: names.namespace, build: BUILD, prefix: opens.slice(0, -"open/".length), refused: refusal });
    } else if (data.type === "open-grant") {
      reply(mintGrant(data));
    } else if (data.type === "boot") {
      event.waitUntil(runtime().then(() => reply({ ok: true, timings }),
        (e) => reply({ ok: false, code: e.code, file: e.file, message: String(e.message || e) })));
    } else if (data.type === "state") {
      reply(refusal || { type: "worker", state: "ok", build: BUILD });
    }
    return true;
  }

  // install(): the package's runtime files into this namespace's cache, each checked (a
  // mismatch refuses for good and keeps nothing). activate(): older releases' caches of this
  // namespace removed (never another namespace's or the app's).
  async function install() {
    if (refusal) throw refuse(refusal.code, refusal.file, "was refused");
    const cache = await caches.open(names.cache);
    try {
      await Promise.all(runtimeFiles().map(async (path) => {
        const url = new URL(path, packageUrl).href;
        if (await cache.match(url)) return;
        const { body, response } = await fetchChecked(url, path, (u) => networkFetch(u, { cache: "no-cache" }));
        await cache.put(url, new Response(body, { status: 200, headers: response.headers }));
      }));
    } catch (error) {
      if (error.code === "integrity") {
        await caches.delete(names.cache);
        throw refuse("integrity", error.file, "does not match its build hash");
      }
      throw error;
    }
  }

  async function activate() {
    for (const name of await caches.keys()) {
      if (name.startsWith(names.prefix) && name !== names.cache && /^[0-9a-f]{16}$/.test(name.slice(names.prefix.length))) {
        await caches.delete(name);
      }
    }
  }

  return { namespace: names.namespace, prefix: opens.slice(0, -"open/".length), build: BUILD, install, activate,
    handleFetch, handleSync, handlePeriodicSync, handleMessage, refuse, timings };
}

// --- responses this worker makes ------------------------------------------------------------------
function secured(headers, csp) {
  const result = new Headers(headers);
  for (const [name, value] of Object.entries(HEADERS.common)) result.set(name, value); // replace, never append
  result.set("Content-Security-Policy", csp);
  return result;
}

function errorResponse(code, message) {
  return new Response(JSON.stringify({ error: code, message }), {
    status: (ERRORS[code] && ERRORS[code].status) || 500,
    headers: secured({ "Content-Type": "application/json", "Cache-Control": "no-store" }, HEADERS.strict_csp),
  });
}

// One byte range of RFC 9110 14.1.2 ("bytes=a-b", "bytes=a-", "bytes=-n") as [start, end);
// null for none or a form not served (then the whole file, 200); "unsatisfiable" (416).
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
