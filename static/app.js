// The PWA: starts MeshKit (the meshkit-web package), registers the app's own service worker,
// renders the app (ui.js). It exposes its MeshKit as globalThis.meshkit (for its tests).
//
// No static imports: every module comes in through import(), which index.html's import map
// pins by hash, so a module that was altered (or cannot load) is a clear error on screen,
// not a blank page. guard.js reports the case where this file itself is refused.
const root = document.getElementById("app");
const nativeFetch = globalThis.fetch.bind(globalThis); // before meshkit.js wraps it while it boots

function fatal(code, message) {
  document.documentElement.dataset.meshkitReady = "error";
  document.documentElement.dataset.meshkitError = code;
  root.replaceChildren();
  const text = document.createElement("p");
  text.className = "fatal";
  text.setAttribute("role", "alert");
  text.textContent = "MeshKit cannot start here: " + message;
  root.append(text);
}

// A boot failed: is one of the pinned modules not what was built (an import refused by
// its hash gives only a bare TypeError), or was it something else?
async function alteredModule() {
  const pinned = JSON.parse(document.querySelector('script[type="importmap"]').textContent).integrity;
  for (const [path, integrity] of Object.entries(pinned)) {
    const reachable = await nativeFetch(path, { cache: "no-store" }).then((r) => r.ok, () => false);
    const intact = await nativeFetch(path, { cache: "no-store", integrity }).then(() => true, () => false);
    if (reachable && !intact) return path.split("/").slice(-2).join("/");
  }
  return null;
}

async function load(path) {
  try {
    return await import(new URL(path, import.meta.url).href);
  } catch (error) {
    throw Object.assign(new Error(`${path.slice(2)} could not be loaded (${error.message})`), { code: "unavailable" });
  }
}

// the shell in index.html shows how far Core has come
const bar = document.querySelector('[data-testid="boot-progress"]');
const stage = document.querySelector('[data-testid="boot-stage"]');
const mib = (n) => (n / (1 << 20)).toFixed(1);
function progress({ stage: step, loaded, total }) {
  document.documentElement.dataset.bootStage = step;
  if (!bar || !stage) return;
  if (step === "download") {
    bar.max = total || 1;
    bar.value = Math.min(loaded, total);
    stage.textContent = `Loading the encryption engine… ${mib(loaded)} of ${mib(total)} MB`;
  } else {
    bar.value = bar.max;
    stage.textContent = "Starting…";
  }
}

// The gateway this build talks to: build.py --gateway, or this origin.
const gateway = document.querySelector('meta[name="meshkit-gateway"]').content || location.origin;

try {
  // the app uses the meshkit-web package through its public API only (docs/SDK.md)
  const { createMeshKit } = await load("../meshkit.js");
  // the page opens its contact and send links at "/" (link.js takes them)
  const meshkit = await createMeshKit({ gateway, onProgress: progress, linkBase: location.origin + "/" });
  // ask the browser to keep this app's data (identities, keys); capabilities() reports the answer
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  // the app's own handle, for its tests and the console: the runtime sets no global
  globalThis.meshkit = meshkit;
  document.documentElement.dataset.meshkitReady = "true";
  const { registerAppWorker } = await load("./worker.js");
  const worker = await registerAppWorker();
  if (worker.state === "refused") {
    meshkit.refusedWorker = worker;
    console.warn(`meshkit app: ${worker.detail}`);
  }
  const { render } = await load("./ui.js");
  render(root, meshkit);
} catch (error) {
  const altered = error.code === "integrity" ? null : await alteredModule().catch(() => null);
  if (altered) {
    fatal("integrity", `${altered} does not match its build hash: this copy of MeshKit was altered after it ` +
      "was built, refusing to run it");
  } else {
    fatal(error.code || "internal", error.message || String(error));
  }
}
