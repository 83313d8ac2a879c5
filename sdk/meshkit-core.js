// meshkit-core.js: Core for a page, off its main thread. createMeshKit (meshkit.js) fetches
// this bundle, checks its SHA-384 against the hash meshkit.js carries, and runs it as a
// dedicated module worker: Pyodide, the wheels and the runtime live here, and the page
// module is a thin proxy. Blobs cross by reference (structured clone), never copied through
// the page's thread. Imported in a page instead (createMeshKit({thread: "page"})), it only
// exports hostInPage: Core on the page's own thread, as before (benchmarks compare the two).
//
// The protocol (page <-> this worker), one message each:
//   page:   {type: "init", gateway, namespace, base}   boot Pyodide and the wheels now
//           {type: "go", background}                   start Core (the page's checks passed)
//           {type: "call", id, method, args, callbacks} a Runtime method; callbacks: arg positions
//                                                      that were functions on the page
//           {type: "reply", reply, ok, value}          a callback's answer
//   worker: {type: "progress", progress} | {type: "ready", pyodideMs} | {type: "failed", code, message, file}
//           {type: "result", id, ok, value | code, message}
//           {type: "callback", callback, reply, args}  call the page's function; answer with "reply"
import { ERRORS, MeshKitError, loadRuntime, unwrap } from "./core.js";

// A thrown value's code if it is one of the registry's, else "internal" (a DOMException's
// numeric code, a Python traceback's type: never passed on as if typed).
const codeOf = (error) => (error && typeof error.code === "string" && error.code in ERRORS ? error.code : "internal");

const METHOD = /^[a-z][a-z0-9_]*$/;
const allowed = new WeakMap();  // runtime -> the names of its @api methods (runtime.py api_names)

// A JS value the page can receive: PyProxies (a dict Python passed as it is) become plain.
const plain = (value) => (value && typeof value.toJs === "function"
  ? value.toJs({ dict_converter: Object.fromEntries }) : value);

// Calls Runtime methods by name on ``py`` with the page's arguments; ``toCallback(id)``
// makes the page's function ``id`` callable here.
export async function invoke(py, { method, args, callbacks = [] }, toCallback) {
  if (!allowed.has(py)) allowed.set(py, new Set(plain(py.api_names())));
  if (typeof method !== "string" || !METHOD.test(method) || !allowed.get(py).has(method)) {
    throw new MeshKitError("invalid_argument", `no runtime method ${JSON.stringify(String(method))}`);
  }
  const decoded = args.map((arg, i) => (callbacks.includes(i) ? toCallback(arg) : arg));
  return unwrap(await py[method](...decoded));
}

// Core on the page's own thread (thread: "page"): the same runtime, called directly.
export async function hostInPage({ gateway, namespace, base, background, beforeStart, onProgress }) {
  const { py, pyodide, pyodideMs } = await loadRuntime({ gateway, namespace, base, background, beforeStart, onProgress });
  return {
    thread: "page", pyodide, pyodideMs,
    call: (method, ...args) => invoke(py, { method, args }, (f) => f),
    terminate: () => {},
  };
}

// --- as a dedicated worker ----------------------------------------------------------------------
const inWorker = typeof WorkerGlobalScope !== "undefined" && typeof self !== "undefined"
  && self instanceof WorkerGlobalScope && typeof self.postMessage === "function" && !("clients" in self);

if (inWorker) {
  let py = null;
  let go;
  const started = new Promise((resolve, reject) => { go = { resolve, reject }; });
  started.catch(() => {});
  const waiting = new Map();  // reply id -> {resolve, reject} of a callback the page runs
  let nextReply = 1;
  const post = (message) => self.postMessage(message);

  const toCallback = (callback) => (...args) => {
    const reply = nextReply++;
    return new Promise((resolve, reject) => {
      waiting.set(reply, { resolve, reject });
      post({ type: "callback", callback, reply, args: args.map(plain) });
    });
  };

  const boot = async ({ gateway, namespace, base }) => {
    try {
      const loaded = await loadRuntime({ gateway, namespace, base: new URL(base), background: () => started,
        onProgress: (progress) => post({ type: "progress", progress }) });
      py = loaded.py;
      post({ type: "ready", pyodideMs: loaded.pyodideMs });
    } catch (error) {
      post({ type: "failed", code: codeOf(error), message: String(error.message || error), file: error.file });
    }
  };

  const call = async ({ id, ...request }) => {
    try {
      if (!py) throw new MeshKitError("internal", "MeshKit's Core has not started");
      post({ type: "result", id, ok: true, value: await invoke(py, request, toCallback) });
    } catch (error) {
      post({ type: "result", id, ok: false, code: codeOf(error),
        message: codeOf(error) === "internal" ? "Core failed (" + (error && error.name || "error") + ")" : String(error.message) });
    }
  };

  self.onmessage = (event) => {
    const message = event.data || {};
    if (message.type === "init") boot(message);
    else if (message.type === "go") go.resolve(message.background);
    else if (message.type === "call") call(message);
    else if (message.type === "reply" && waiting.has(message.reply)) {
      const { resolve, reject } = waiting.get(message.reply);
      waiting.delete(message.reply);
      if (message.ok) resolve(message.value);
      else reject(new MeshKitError(message.code || "internal", message.message));
    }
  };
}
