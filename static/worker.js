// The app's own service worker (sw.js, built on the package's createMeshKitWorker): the page
// registers it once MeshKit is running, never before (its install, precaching the release and
// booting its own Pyodide, on the same cores would slow this boot). The runtime registers
// nothing: this is the app's decision, as it would be in any app that embeds MeshKit.
//
// sw.js cannot be pinned like a module (the browser fetches it, and again on every update
// check), so its bytes are checked here against the hash index.html carries before it is
// registered. A mismatch registers nothing and removes this app's earlier registration (it
// would update to the altered script); other workers of the origin are never touched.

const b64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));

function workerScript() {
  const meta = document.querySelector('meta[name="meshkit-worker"]');
  return meta ? { url: new URL(meta.content, location.href), integrity: meta.dataset.integrity } : null;
}

// "ok", "altered", or "unchecked" (not reachable: offline).
async function checkWorkerScript({ url, integrity }) {
  let body;
  try {
    const response = await fetch(url, { cache: "no-cache" });  // revalidated: a 304 costs nothing
    if (!response.ok) return "unchecked";
    body = await response.arrayBuffer();
  } catch {
    return "unchecked";
  }
  return "sha384-" + b64(await crypto.subtle.digest("SHA-384", body)) === integrity ? "ok" : "altered";
}

// Registrations of this app's worker (sw.js at this origin), whatever release they name.
async function ours(script) {
  const all = await navigator.serviceWorker.getRegistrations().catch(() => []);
  return all.filter((registration) => [registration.active, registration.waiting, registration.installing]
    .some((w) => w && new URL(w.scriptURL).pathname === script.url.pathname));
}

// {state: "registered" | "kept" | "refused" | "unavailable", detail}
export async function registerAppWorker() {
  const script = workerScript();
  if (!("serviceWorker" in navigator) || !script) return { state: "unavailable", detail: "no service workers here" };
  const checked = await checkWorkerScript(script);
  const mine = await ours(script);
  const known = mine.some((r) => [r.active, r.waiting, r.installing]
    .some((w) => w && new URL(w.scriptURL).href === script.url.href));
  if (checked === "altered" || (checked === "unchecked" && !known)) {
    for (const old of mine) await old.unregister();
    return checked === "altered"
      ? { state: "refused", detail: "the service worker's code (sw.js) does not match its build hash: it was not registered" }
      : { state: "unavailable", detail: "the service worker's code could not be checked (offline?)" };
  }
  try {
    const registration = await navigator.serviceWorker.register(script.url.href, { type: "module", scope: "/",
      updateViaCache: "none" });
    return registration ? { state: "registered" } : { state: "unavailable", detail: "no service worker was registered" };
  } catch (error) {
    return { state: "unavailable", detail: `the service worker could not be registered (${error.name || "error"})` };
  }
}
