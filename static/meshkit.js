// globalThis.meshkit: MeshKit's promise-based JS API over the Python runtime (Pyodide).
//
// Boot loads Pyodide and our wheels from this origin (one immutable release under
// /b/<BUILD>/), then meshkit_web.runtimes.browser, which does all crypto through WebCrypto
// with non-extractable keys. Every call resolves with plain JS values or rejects with a
// MeshKitError whose `code` is MeshKit's typed error code (cid_mismatch, revoked, ...).
import { loadPyodide } from "../pyodide/pyodide.mjs";

const RELEASE = new URL("../", import.meta.url);

export class MeshKitError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "MeshKitError";
    this.code = code;
  }
}

// A runtime method's {ok, value} | {ok: false, code, message} as a value or a MeshKitError.
export function unwrap(result) {
  const plain = result.toJs ? result.toJs({ dict_converter: Object.fromEntries }) : result;
  if (result.destroy) result.destroy();
  if (!plain.ok) throw new MeshKitError(plain.code, plain.message);
  return plain.value;
}

function toBlob(input) {
  if (input instanceof Blob) return input;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return new Blob([input]);
  if (typeof input === "string") return new Blob([new TextEncoder().encode(input)]);
  throw new MeshKitError("invalid_argument", "seal takes a File, Blob, ArrayBuffer, typed array or string");
}

const list = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const OUTBOX_TAG = "meshkit-outbox";
const MAILBOX_TAG = "meshkit-mailbox";

// The service worker (Core in the worker, Background Sync, streaming opens, offline shell).
// Returns {registration, report}; report is what capabilities().background says.
async function registerWorker(serviceWorker) {
  if (!serviceWorker || !("serviceWorker" in navigator)) {
    return { registration: null, report: { mode: "caller-managed", service_worker: false, background_sync: false,
      detail: "no service worker here: uploads and mailbox checks run while this page is open" } };
  }
  let registration;
  try {
    registration = await navigator.serviceWorker.register("/sw.js", { type: "module", scope: "/" });
  } catch (error) {
    return { registration: null, report: { mode: "caller-managed", service_worker: false, background_sync: false,
      detail: "the service worker could not be registered (" + (error.name || "error") + "): uploads run while this page is open" } };
  }
  const sync = "sync" in registration;
  let periodic = "periodicSync" in registration ? "available" : "missing";
  if (periodic === "available") {
    try {
      await registration.periodicSync.register(MAILBOX_TAG, { minInterval: 12 * 3600 * 1000 });
      periodic = "registered";
    } catch (error) {
      periodic = "not permitted (" + (error.name || "error") + ")"; // e.g. the app is not installed
    }
  }
  return { registration, report: sync
    ? { mode: "service-worker", service_worker: true, background_sync: true, periodic_sync: periodic,
        detail: "queued uploads finish in the background, even after this page closes" }
    : { mode: "caller-managed", service_worker: true, background_sync: false, periodic_sync: periodic,
        detail: "no Background Sync here: queued uploads run while this page is open" } };
}

// Pyodide, our wheels and the Python runtime, for the page (boot) and the service worker.
// The worker passes createPyodideModule (it may not import() dynamically); `background`
// (what capabilities() reports) may be a promise, so the page registers its worker meanwhile.
export async function loadRuntime({ gateway, background, createPyodideModule }) {
  const started = performance.now();
  const pyodide = await loadPyodide({
    indexURL: new URL("pyodide/", RELEASE).href,
    lockFileURL: new URL("pyodide/pyodide-lock.json", RELEASE).href, // must be absolute
    ...(createPyodideModule ? { createPyodideModule } : {}),
    stdout: () => {},
    stderr: (line) => console.warn(line),
  });
  const pyodideMs = performance.now() - started;
  const failures = [];
  const loaded = await pyodide.loadPackage(["meshkit-web"], {
    messageCallback: () => {},
    errorCallback: (message) => failures.push(message),
  });
  if (failures.length || !loaded.length) {
    throw new MeshKitError("unavailable", "MeshKit could not load its Python packages: " +
      (failures.join("; ") || "nothing loaded"));
  }
  const module = pyodide.pyimport("meshkit_web.runtimes.browser");
  try {
    const py = await module.start(gateway, pyodide.toPy(await background));
    return { py, pyodide, pyodideMs };
  } catch (error) {
    // UnsupportedError (no X25519/Ed25519 in WebCrypto): say so plainly
    const match = /(\w+Error): (.*)$/m.exec(String(error.message || error));
    throw new MeshKitError("unsupported", match ? match[2] : "this browser cannot run MeshKit");
  }
}

export async function boot({ gateway = location.origin, serviceWorker = true } = {}) {
  const started = performance.now();
  const registering = registerWorker(serviceWorker);
  const { py, pyodide, pyodideMs } = await loadRuntime({ gateway, background: registering.then((w) => w.report) });
  const timings = { pyodideMs, readyMs: performance.now() - started };
  return makeApi(py, pyodide, timings, await registering);
}

function makeApi(py, pyodide, timings, worker) {
  const call = async (method, ...args) => unwrap(await py[method](...args));
  const listeners = new Set();
  const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("meshkit") : null;
  const emit = (message) => listeners.forEach((listener) => { try { listener(message); } catch (e) { console.error(e); } });
  if (channel) channel.onmessage = (event) => emit(event.data);

  // Who drains the outbox: the worker on Background Sync, or this page ("caller-managed").
  let pageRun = null;
  async function drainOutbox() {
    if (worker.report.mode === "service-worker") {
      const registration = await navigator.serviceWorker.ready;
      // fires now if online, else when back online. A fresh tag each time: re-registering a
      // tag whose event failed (a killed worker) only waits for the browser's retry (minutes)
      await registration.sync.register(`${OUTBOX_TAG}:${Date.now()}`);
      return;
    }
    if (!pageRun) {
      pageRun = (async () => {
        try {
          // retry with backoff while this page is open; "pending" only if told to give up
          await call("outbox_run");
        } finally {
          pageRun = null;
        }
      })();
    }
    return pageRun;
  }
  addEventListener("online", () => drainOutbox().catch(() => {}));
  // Jobs left by an earlier visit (page closed, worker killed): get them going again.
  call("jobs").then((jobs) => {
    if (jobs.some((job) => ["queued", "uploading", "retrying"].includes(job.state))) drainOutbox().catch(() => {});
  }).catch(() => {});

  const openUrl = (root, { as, name, type, download } = {}) => {
    const query = new URLSearchParams({ as });
    if (name) query.set("name", name);
    if (type) query.set("type", type);
    if (download) query.set("download", "1");
    return `/meshkit/open/${encodeURIComponent(root)}?${query}`;
  };

  return {
    version: "1",
    timings,
    pyodide,
    MeshKitError,
    capabilities: () => call("capabilities"),
    identity: {
      create: (name) => call("identity_create", name),
      list: () => call("identity_list"),
      record: (name) => call("identity_record", name),
      publish: (name) => call("identity_publish", name),
    },
    contacts: {
      add: (record) => call("contact_add", typeof record === "string" ? record : JSON.stringify(record)),
      list: () => call("contact_list"),
    },
    // seal(fileOrBytes, {from, to, name, onProgress, mode}) -> {root, name, size, created,
    // recipients, status: "uploaded"|"queued", job}. mode "auto" (default): upload now, or
    // queue in the outbox when offline or the gateway is down; "outbox": always queue;
    // "direct": upload now or fail.
    seal: async (input, { from, to, name, onProgress, mode = "auto" } = {}) => {
      const blob = toBlob(input);
      const entry = await call("seal", blob, from, list(to), name || input.name || "", onProgress, mode);
      if (entry.job) drainOutbox().catch(() => {});
      return entry;
    },
    // open(root, {as, type, onProgress}) -> {blob, size, sender, created}: the Blob exists
    // only once every segment has been verified and authenticated
    open: (root, { as, type, onProgress } = {}) => call("open", root, as, type || "", onProgress),
    // Through the service worker: a streamed Response of plaintext (for large files), and a
    // URL to link to (download: true makes it a file download)
    openUrl,
    openStream: async (root, options = {}) => {
      if (!navigator.serviceWorker || !navigator.serviceWorker.controller) {
        throw new MeshKitError("unsupported", "streaming opens need the service worker (reload once it is installed)");
      }
      const response = await fetch(openUrl(root, options));
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new MeshKitError(body.error || "internal", body.message || `HTTP ${response.status}`);
      }
      return response;
    },
    envelopes: (owner) => call("envelopes", owner),
    share: (root, { from, to, expires, policy } = {}) => call("share", root, from, to, expires, policy),
    revoke: (root, { from, to } = {}) => call("revoke", root, from, to),
    inbox: (as, { all = false } = {}) => call("inbox", as, all),
    ack: (as, messageId) => call("ack", as, messageId),
    // The outbox: jobs and what to do about them
    jobs: {
      list: () => call("jobs"),
      get: (id) => call("job", id),
      retry: async (id) => { const job = await call("job_retry", id); drainOutbox().catch(() => {}); return job; },
      discard: (id) => call("job_discard", id),
      run: () => drainOutbox(),
    },
    checkMailbox: async () => {
      if (worker.report.mode === "service-worker") {
        const registration = await navigator.serviceWorker.ready;
        await registration.sync.register(MAILBOX_TAG);
        return null;
      }
      return call("mailbox_check");
    },
    // onChange(listener): {type: "job", job} and {type: "inbox", identity, new} from this
    // page, other tabs and the worker. Returns an unsubscribe function.
    onChange: (listener) => { listeners.add(listener); return () => listeners.delete(listener); },
    worker: worker.registration,
    channel, // held here: an unreferenced BroadcastChannel can be collected, and its messages lost
  };
}
