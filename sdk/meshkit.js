// meshkit.js: MeshKit Web's page module. docs/SDK.md is its reference; index.d.ts its types.
//
//   import { createMeshKit, MeshKitError } from "/vendor/meshkit/meshkit.js";
//   const mk = await createMeshKit({ gateway: "https://gateway.example", namespace: "notes" });
//
// createMeshKit loads Pyodide and Core from this package's own files (each checked against
// the build's hash) and returns the API. It sets no global, registers no service worker and
// keeps everything it stores under its namespace (IndexedDB, BroadcastChannel, sync tags,
// caches, Web Locks). Background uploads and streamed opens are the app's service worker's,
// when it runs createMeshKitWorker (meshkit-sw.js) for the same namespace; else the page
// drains the outbox itself ("caller-managed") and capabilities() says so.
import { BUILD, DEFAULT_NAMESPACE, ERRORS, MeshKitError, VERSION, loadRuntime, namesOf, packageBase, unwrap }
  from "./core.js";
import { saveName, shown } from "./text.js";

export { BUILD, ERRORS, MeshKitError, VERSION, saveName, shown };

const WORKER_ANSWER_MS = 3_000;  // a MeshKit worker answers "hello" at once; anything else never does
const GATEWAY_PROBE_MS = 10_000;

function toBlob(input) {
  if (input instanceof Blob) return input;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return new Blob([input]);
  if (typeof input === "string") return new Blob([new TextEncoder().encode(input)]);
  throw new MeshKitError("invalid_argument", "seal takes a File, Blob, ArrayBuffer, typed array or string");
}

const list = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

// --- misconfiguration, found before anything is created ----------------------------------------
function gatewayUrl(gateway) {
  let url;
  try {
    url = new URL(gateway || location.origin, location.href);
  } catch {
    throw new MeshKitError("invalid_argument", `gateway ${JSON.stringify(String(gateway))} is not a URL`);
  }
  if (!["https:", "http:"].includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new MeshKitError("invalid_argument", "gateway must be an http(s) URL with no credentials, query or fragment");
  }
  return url.href.replace(/\/+$/, "");
}

// "ok", "offline", or a MeshKitError: the gateway refuses this origin (CORS), or cannot be reached.
async function probeGateway(gateway) {
  if (navigator.onLine === false) return "offline";
  const info = `${gateway}/v1/info`;
  const bounded = (init) => fetch(info, { ...init, cache: "no-store", signal: AbortSignal.timeout(GATEWAY_PROBE_MS) });
  try {
    const response = await bounded({ mode: "cors", credentials: "omit" });
    return response.ok ? "ok" : new MeshKitError("unavailable", `the gateway at ${gateway} answered HTTP ` +
      `${response.status} for /v1/info: is this MeshKit's gateway (meshkit serve)?`);
  } catch {
    // The same request without CORS: it reaches the server when only CORS refused us
    const reachable = await bounded({ mode: "no-cors", credentials: "omit" }).then(() => true, () => false);
    return reachable
      ? new MeshKitError("gateway_origin_refused", `the gateway at ${gateway} does not accept requests from ` +
          `${location.origin}: start it with --cors-origin ${location.origin}`)
      : new MeshKitError("unavailable", `the gateway at ${gateway} cannot be reached: check the URL and that it is running`);
  }
}

// --- the app's service worker ------------------------------------------------------------------
// The worker report capabilities().background gives: "service-worker" only when a worker that
// runs createMeshKitWorker for this namespace controls this page and Background Sync may run.
const managed = (detail, more = {}) => ({ mode: "caller-managed", service_worker: false, background_sync: false,
  streaming_urls: false, detail, ...more });

function askWorker(controller, message, timeoutMs = WORKER_ANSWER_MS) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), timeoutMs);
    channel.port1.onmessage = (event) => { clearTimeout(timer); resolve(event.data); };
    controller.postMessage(message, [channel.port2]);
  });
}

async function probeWorker(names) {
  const container = "serviceWorker" in navigator ? navigator.serviceWorker : null;
  const controller = container && container.controller;
  if (!controller) {
    return { report: managed("no MeshKit service worker controls this page: uploads run while it is open") };
  }
  const hello = await askWorker(controller, { meshkit: names.namespace, type: "hello" });
  if (!hello || hello.namespace !== names.namespace) {
    return { report: managed(`the service worker controlling this page does not run MeshKit for namespace ` +
      `"${names.namespace}": uploads run while this page is open`) };
  }
  if (hello.refused) {
    return { report: managed(`the MeshKit service worker refused to run (${hello.refused.file} does not match its ` +
      "build hash): uploads run while this page is open", { refused: hello.refused }) };
  }
  const registration = await container.getRegistration().catch(() => null);
  const permission = await navigator.permissions?.query({ name: "background-sync" }).then((p) => p.state, () => "unknown");
  const sync = !!registration && "sync" in registration && permission !== "denied";
  let periodic = registration && "periodicSync" in registration ? "available" : "missing";
  if (periodic === "available") {
    try {
      await registration.periodicSync.register(names.mailboxTag, { minInterval: 12 * 3600 * 1000 });
      periodic = "registered";
    } catch (error) {
      periodic = "not permitted (" + (error.name || "error") + ")"; // e.g. the app is not installed
    }
  }
  const worker = { controller, registration, prefix: hello.prefix };
  const report = sync
    ? { mode: "service-worker", service_worker: true, background_sync: true, periodic_sync: periodic,
        streaming_urls: true, detail: "queued uploads finish in the background, even after this page closes" }
    : { mode: "caller-managed", service_worker: true, background_sync: false, periodic_sync: periodic,
        streaming_urls: true, detail: (registration && "sync" in registration ? "Background Sync is not permitted here"
          : "no Background Sync here") + ": queued uploads run while this page is open" };
  return { report, worker };
}

/**
 * Start MeshKit in this page. Options: gateway (URL; default this origin), namespace (default
 * "default"), onProgress({stage, loaded, total}), base (where this package is served, when a
 * bundler moved this module), linkBase (the page contact and send links open; default this
 * page's URL). Rejects with a MeshKitError: insecure_context, unsupported,
 * gateway_origin_refused, unavailable (gateway unreachable on a first start), integrity.
 */
export async function createMeshKit({ gateway, namespace = DEFAULT_NAMESPACE, onProgress, base, linkBase } = {}) {
  const started = performance.now();
  if (!globalThis.isSecureContext) {
    throw new MeshKitError("insecure_context", `${location.origin} is not a secure context: serve the app over ` +
      "https:// (or from localhost while developing)");
  }
  if (!globalThis.crypto || !crypto.subtle) throw new MeshKitError("unsupported", "this browser has no WebCrypto");
  const names = namesOf(namespace);
  const gatewayHref = gatewayUrl(gateway);
  const packageUrl = packageBase(base, import.meta.url);
  const gatewayState = probeGateway(gatewayHref);
  let worker = null;
  let workerReport = null;
  const background = async () => {
    const found = await probeWorker(names);
    worker = found.worker || null;
    return (workerReport = found.report);
  };
  // A gateway that refuses this origin is never right; one that cannot be reached is an
  // outage once this namespace holds an identity, a misconfiguration before
  const beforeStart = async () => {
    const state = await gatewayState;
    if (state instanceof MeshKitError && state.code === "gateway_origin_refused") throw state;
  };
  const { py, pyodide, pyodideMs } = await loadRuntime({ gateway: gatewayHref, namespace: names.namespace,
    base: packageUrl, background, beforeStart, onProgress });
  const state = await gatewayState;
  if (state instanceof MeshKitError) {
    const mine = unwrap(await py.identity_list());
    if (!mine.length) throw state;
  }
  const timings = { pyodideMs, readyMs: performance.now() - started };
  return makeApi({ py, pyodide, names, timings, worker, report: workerReport, gateway: gatewayHref,
    gatewayState: state, linkBase: linkBase || location.origin + location.pathname });
}

function makeApi({ py, pyodide, names, timings, worker, report, gateway, gatewayState, linkBase }) {
  const call = async (method, ...args) => unwrap(await py[method](...args));
  const listeners = new Set();
  const emit = (message) => listeners.forEach((listener) => { try { listener(message); } catch (e) { console.error(e); } });
  const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel(names.base) : null;
  if (channel) channel.onmessage = (event) => emit(event.data);
  let refused = null;  // what a MeshKit worker of this namespace said when it refused to run
  const updateWorker = async () => {
    const found = await probeWorker(names);
    worker = found.worker || null;
    if (refused && found.report.mode !== "service-worker" && !found.report.refused) {
      found.report = { ...found.report, refused, detail: `the MeshKit service worker refused to run (${refused.file} ` +
        "does not match its build hash): uploads run while this page is open" };
    }
    report = await call("set_background", found.report);
    emit({ type: "background", background: report });
    if (report.mode !== "service-worker") drainOutbox().catch(() => {});
  };
  const container = "serviceWorker" in navigator ? navigator.serviceWorker : null;
  const onControllerChange = () => updateWorker().catch(() => {});
  const onWorkerMessage = (event) => {
    const data = event.data;
    if (!data || data.meshkit !== names.namespace || data.type !== "worker" || data.state !== "refused") return;
    refused = { code: String(data.code), file: String(data.file), message: String(data.message) };
    emit({ type: "worker", state: "refused", ...refused });
    updateWorker().catch(() => {});
  };
  if (container) {
    container.addEventListener("controllerchange", onControllerChange);
    container.addEventListener("message", onWorkerMessage);
  }

  // Who drains the outbox: the worker on Background Sync, or this page ("caller-managed").
  let pageRun = null;
  async function drainOutbox() {
    if (report.mode === "service-worker" && worker && worker.registration) {
      // fires now if online, else when back online. A fresh tag each time: re-registering a
      // tag whose event failed (a killed worker) only waits for the browser's retry (minutes).
      // Refused (the user or the browser denied background sync): this page uploads instead.
      const registered = await worker.registration.sync.register(`${names.outboxTag}:${Date.now()}`)
        .then(() => true, (error) => {
          console.warn("background sync refused (" + error.name + "): this page uploads the outbox");
          return false;
        });
      if (registered) return;
    }
    if (!pageRun) {
      pageRun = (async () => {
        try {
          await call("outbox_run");  // retries with backoff while this page is open
        } finally {
          pageRun = null;
        }
      })();
    }
    return pageRun;
  }
  const onOnline = () => drainOutbox().catch(() => {});
  addEventListener("online", onOnline);
  // Jobs left by an earlier visit (page closed, worker killed): get them going again.
  call("jobs").then((jobs) => {
    if (jobs.some((job) => ["queued", "uploading", "retrying"].includes(job.state))) drainOutbox().catch(() => {});
  }).catch(() => {});

  // A streamed open is answered only for a link this page minted: the worker keeps a random
  // one-time capability (root, identity id, options) and the URL carries only it.
  const openUrl = async (root, { as, name, type, download, play, ttl } = {}) => {
    if (!worker || !worker.controller || navigator.serviceWorker.controller !== worker.controller) {
      throw new MeshKitError("unsupported", `streamed opens need the app's service worker running createMeshKitWorker ` +
        `for namespace "${names.namespace}" to control this page`);
    }
    const mine = await call("identity_list");
    const identity = mine.find((i) => i.id === as) || mine.find((i) => i.name === as);
    if (!identity) throw new MeshKitError("unknown_identity", `no identity named ${JSON.stringify(as)} in this browser`);
    const reply = await askWorker(worker.controller, { meshkit: names.namespace, type: "open-grant", root: String(root),
      identity: identity.id, name: name ? String(name) : "", mediaType: type ? String(type) : "", download: !!download,
      play: !!play, ttlMs: ttl ? Number(ttl) * 1000 : undefined }, 10_000);
    if (!reply) throw new MeshKitError("unavailable", "the service worker did not answer");
    if (!reply.ok) throw new MeshKitError(reply.code || "internal", reply.message || "no link");
    return new URL(reply.url, location.href).href;
  };
  const appLink = (fragment) => linkBase + "#" + fragment;

  return {
    version: VERSION,
    build: BUILD,
    namespace: names.namespace,
    gateway,
    timings,
    pyodide,
    // what background work there is now (the same object as capabilities().background)
    get background() { return report; },
    capabilities: async () => ({ ...(await call("capabilities")), namespace: names.namespace,
      gateway: { url: gateway, state: gatewayState instanceof MeshKitError ? gatewayState.code : gatewayState } }),
    // diagnostics() -> a support bundle (versions, capabilities, config, public ids, outbox
    // states, recent log), redacted: no keys, tokens, phrases, file names or URL credentials
    diagnostics: () => call("diagnostics"),
    identity: {
      create: (name) => call("identity_create", name),
      list: () => call("identity_list"),
      record: (name) => call("identity_record", name),
      contactLink: async (name) => appLink(await call("identity_contact_link", name)),
      publish: (name) => call("identity_publish", name),
      recover: (name, phrase, { deviceName } = {}) => call("identity_recover", name, phrase, deviceName || ""),
      confirmRecoveryKit: (name, phrase) => call("identity_confirm_kit", name, phrase),
    },
    devices: {
      list: (name) => call("devices_list", name),
      requestLink: ({ deviceName } = {}) => call("devices_request_link", deviceName),
      approve: (name, link, { onCode } = {}) => call("devices_approve", name, link, onCode),
      waitForLink: (link, { timeout, askCode } = {}) => call("devices_wait_for_link", link, timeout, askCode),
      remove: (name, deviceId) => call("devices_remove", name, [].concat(deviceId)),
    },
    contacts: {
      add: (record) => call("contact_add", typeof record === "string" ? record : JSON.stringify(record)),
      list: () => call("contact_list"),
    },
    qr: (text) => call("qr", String(text)),
    seal: async (input, { from, to, name, onProgress, mode = "auto" } = {}) => {
      const blob = toBlob(input);
      const entry = await call("seal", blob, from, list(to), name || input.name || "", onProgress, mode);
      if (entry.job) drainOutbox().catch(() => {});
      return entry;
    },
    open: (root, { as, type, onProgress } = {}) => call("open", root, as, type || "", onProgress),
    describe: (root, { as } = {}) => call("describe", root, as),
    openUrl,
    openStream: async (root, options = {}) => {
      const response = await fetch(await openUrl(root, options));
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new MeshKitError(body.error || "internal", body.message || `HTTP ${response.status}`);
      }
      return response;
    },
    envelopes: (owner) => call("envelopes", owner),
    share: (root, { from, to, expires, policy } = {}) => call("share", root, from, to, expires, policy),
    revoke: (root, { from, to } = {}) => call("revoke", root, from, to),
    sendLinks: {
      create: async (root, { from, expires, opens } = {}) => {
        const made = await call("send_link_create", root, from, expires || "", opens || 0);
        return { ...made, link: appLink(made.fragment) };
      },
      describe: (link) => call("send_link_describe", String(link)),
      open: (link, { onProgress } = {}) => call("send_link_open", String(link), onProgress),
      revoke: (capsule, { from } = {}) => call("send_link_revoke", String(capsule), from),
    },
    access: (root, { as } = {}) => call("access", root, as),
    inbox: (as, { all = false } = {}) => call("inbox", as, all),
    ack: (as, messageId) => call("ack", as, messageId),
    // --- app messages and app records (FORMAT.md section 12; meshkit_web/browser/app_data_api.py) ---
    messages: {
      send: (to, data, { from, kind } = {}) => call("message_send", to, data, from, kind),
      list: (as, { kind, all = false, limit } = {}) => call("message_list", as, kind, all, limit),
      read: (as, id) => call("message_read", as, id),
      ack: (as, id) => call("message_ack", as, id),
    },
    records: {
      get: async (as, name) => (await call("record_get", as, name)) ?? null,
      put: (as, name, data, { expectedVersion } = {}) => call("record_put", as, name, data, expectedVersion),
    },
    // --- end of app messages and app records ---
    jobs: {
      list: () => call("jobs"),
      get: (id) => call("job", id),
      retry: async (id) => { const job = await call("job_retry", id); drainOutbox().catch(() => {}); return job; },
      discard: (id) => call("job_discard", id),
      run: () => drainOutbox(),
    },
    checkMailbox: async () => {
      if (report.mode === "service-worker" && worker && worker.registration) {
        await worker.registration.sync.register(names.mailboxTag);
        return null;
      }
      return call("mailbox_check");
    },
    // onChange(listener): {type: "job" | "inbox" | "background" | "worker", ...} from this page,
    // other pages of this namespace and its worker. Returns an unsubscribe function.
    onChange: (listener) => { listeners.add(listener); return () => listeners.delete(listener); },
    // stop listening (events, the worker, "online"); the page's Pyodide is freed with the page
    close: () => {
      if (channel) channel.close();
      removeEventListener("online", onOnline);
      if (container) {
        container.removeEventListener("controllerchange", onControllerChange);
        container.removeEventListener("message", onWorkerMessage);
      }
      listeners.clear();
    },
  };
}
