// Team notes' own service worker: its own offline cache for its own files, and MeshKit
// (background uploads, streamed downloads, MeshKit's runtime files for offline starts) through
// the package's createMeshKitWorker. Everything else of the origin goes to the network untouched.
//
// The page registers it as a module worker with its settings in the URL:
//   ./sw.js?gateway=<the gateway's origin>&namespace=<the page's namespace>
import { createMeshKitWorker } from "/vendor/meshkit/meshkit-sw.js";

const settings = new URL(self.location.href).searchParams;
const scope = new URL(self.registration.scope).pathname;  // "/" (or "/other/" for a second copy)

// MeshKit for the same namespace as the page; streamed downloads under this worker's scope
// (the default "/meshkit/<namespace>/" would be outside a scope such as "/other/").
const mkw = createMeshKitWorker({
  gateway: settings.get("gateway") || undefined,
  namespace: settings.get("namespace") || "notes",
  prefix: scope + "meshkit/",
});

// The app's own files, cached at install, answered network first (so an update shows at once)
// and from this cache when offline. The page's two package modules are the app's to cache:
// mkw.install() caches only what Core loads (Pyodide, the wheels), not meshkit.js nor the
// meshkit-core.js it starts Core's worker from.
const SHELL_VERSION = "notes-shell-v1";
const SHELL_CACHE = `${SHELL_VERSION} ${scope}`;
const SHELL = ["", "app.js", "notes.css", "config.json", "manifest.webmanifest", "icon.svg"]
  .map((name) => scope + name).concat(["/vendor/meshkit/meshkit.js", "/vendor/meshkit/meshkit-core.js"]);

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await Promise.all([cache.addAll(SHELL.map((path) => new Request(path, { cache: "no-cache" }))), mkw.install()]);
    await self.skipWaiting();  // the app's choice: a new version takes over at once
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      // only this app's older shells for this scope; never MeshKit's caches or another app's
      if (name.startsWith("notes-shell-") && name.endsWith(" " + scope) && name !== SHELL_CACHE) await caches.delete(name);
    }
    await mkw.activate();
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  if (mkw.handleFetch(event)) return;
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname === scope + "index.html" ? scope : url.pathname;
  if (!SHELL.includes(path)) return;  // not ours: the network, untouched
  event.respondWith((async () => {
    try {
      const response = await fetch(request, { cache: "no-cache" });
      if (response.ok) (await caches.open(SHELL_CACHE)).put(path, response.clone());
      return response;
    } catch (error) {
      const cached = await caches.match(path, { cacheName: SHELL_CACHE });
      if (cached) return cached;
      throw error;
    }
  })());
});

self.addEventListener("sync", (event) => mkw.handleSync(event));
self.addEventListener("periodicsync", (event) => mkw.handlePeriodicSync(event));
self.addEventListener("message", (event) => mkw.handleMessage(event));
