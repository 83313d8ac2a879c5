// The MeshKit app's own service worker: a module worker built on the meshkit-web package's
// createMeshKitWorker, as any app's would be (docs/SDK.md). build.py fills in the release's
// base path, build id, gateway and the app shell's hashes, and BUNDLES it with the package's
// meshkit-sw.js: the sw.js it serves imports nothing (a worker has no import map, so a
// module it imported would run unchecked).
//
// - The worker's code is pinned as the page's is: the page checks sw.js's bytes against the
//   hash index.html carries before it registers it, at /sw.js?release=<BUILD>, and the worker
//   refuses a URL of another release. The app shell it precaches is checked against the
//   build's hashes; MeshKit's runtime files are checked and cached by mkw.install().
// - Answers only what is the app's: "/" (and /index.html, the manifest) from the network, the
//   precached copy when offline; the release's files cache-first. Every other page and
//   request of the origin goes to the network untouched.
// - MeshKit's events (streamed opens under /meshkit/, its sync tags, its messages) go to mkw.
import { createMeshKitWorker } from "{{RELEASE}}/meshkit-sw.js";

const BUILD = "{{BUILD}}";
const BASE = "{{BASE}}";
const APP_CACHE = "meshkit-app-{{BUILD}}";
const PRECACHE = {{PRECACHE}};
const INTEGRITY = {{INTEGRITY}}; // SHA-384 (SRI) of the app's release files, fixed at build time
const HEADERS = {{HEADERS}};
const ENTRY_POINTS = ["/", "/index.html"];
// The PDF viewer has a policy of its own (a sandbox with scripts, no network), whether it
// comes from the network or the precache. (A sandboxed frame's requests never reach a worker:
// the app's frame gets it from the network; this answers it opened any other way.)
const PDF_VIEW = HEADERS.pdf_view;  // { path, headers }
// the app may frame that one document: a CSP source with a path names its origin
const APP_CSP = HEADERS.app_csp.replace("frame-src ORIGIN", "frame-src " + location.origin);

const mkw = createMeshKitWorker({ gateway: "{{GATEWAY}}" || location.origin, base: BASE + "/", prefix: "/meshkit/" });

// Registered under another release's URL (a stale sw.js from some cache, or a page of another
// release): this worker's hashes are not the ones that page checks against.
const registeredFor = new URL(location.href).searchParams.get("release");
if (registeredFor !== BUILD) mkw.refuse("integrity", "sw.js", `is release ${BUILD}, registered as release ${registeredFor}`);

const b64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));

// One precached file: a release file must hash to its build hash (else refuse, for good);
// the entry points ("/", the manifest) are the origin's, as index.html and sw.js are.
async function precache(cache, path) {
  const response = await fetch(path, { cache: "no-cache" });
  if (!response.ok) throw new Error(`precache: ${path} answered ${response.status}`);
  const expected = INTEGRITY[path];
  if (!expected) return cache.put(path, response);
  const body = await response.arrayBuffer();
  if ("sha384-" + b64(await crypto.subtle.digest("SHA-384", body)) !== expected) {
    throw mkw.refuse("integrity", path.slice(BASE.length + 1), "does not match its build hash");
  }
  await cache.put(path, new Response(body, { status: response.status, statusText: response.statusText,
    headers: response.headers }));
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(APP_CACHE);
    try {
      await Promise.all(PRECACHE.map((path) => precache(cache, path)));
      await mkw.install();  // after: a refused app shell leaves MeshKit's cache unmade
    } catch (error) {
      await caches.delete(APP_CACHE); // nothing of a refused release is kept
      throw error;
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("meshkit-app-") && name !== APP_CACHE) await caches.delete(name); // older releases
    }
    await mkw.activate();
    await self.clients.claim();
  })());
});

// --- security headers on this worker's own Responses ------------------------------------------
// ours: HEADERS.common, or a whole set of its own (the viewer's)
async function withHeaders(response, csp, ours = HEADERS.common) {
  if (!response || response.type === "error" || response.type === "opaqueredirect") return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ours)) headers.set(name, value); // replace, never append
  if (csp) headers.set("Content-Security-Policy", csp);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener("fetch", (event) => {
  if (mkw.handleFetch(event)) return;
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith(BASE + "/")) {
    // the immutable release: cache first
    const answer = caches.match(request, { cacheName: APP_CACHE }).then((hit) => hit || fetch(request));
    event.respondWith(url.pathname === PDF_VIEW.path ? answer.then((response) => withHeaders(response, "", PDF_VIEW.headers)) : answer);
  } else if ((request.mode === "navigate" && ENTRY_POINTS.includes(url.pathname)) || url.pathname === "/manifest.webmanifest") {
    // the app's entry points: the network's newest, the precached copy when offline or the server is down
    const csp = ENTRY_POINTS.includes(url.pathname) ? APP_CSP : HEADERS.strict_csp;
    event.respondWith(fetch(request).catch(async () =>
      (await caches.match(url.pathname === "/manifest.webmanifest" ? request : "/", { cacheName: APP_CACHE, ignoreSearch: true }))
      || Response.error()).then((response) => withHeaders(response, csp)));
  }
  // everything else (other pages of this origin, the gateway's API) goes to the network untouched
});

self.addEventListener("sync", (event) => mkw.handleSync(event));
self.addEventListener("periodicsync", (event) => mkw.handlePeriodicSync(event));
self.addEventListener("message", (event) => mkw.handleMessage(event));
