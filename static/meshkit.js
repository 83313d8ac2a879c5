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

function unwrap(result) {
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

export async function boot({ gateway = location.origin } = {}) {
  const started = performance.now();
  const pyodide = await loadPyodide({
    indexURL: new URL("pyodide/", RELEASE).href,
    lockFileURL: new URL("pyodide/pyodide-lock.json", RELEASE).href, // must be absolute
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
  let py;
  try {
    py = await module.start(gateway);
  } catch (error) {
    // UnsupportedError (no X25519/Ed25519 in WebCrypto): say so plainly
    const match = /(\w+Error): (.*)$/m.exec(String(error.message || error));
    throw new MeshKitError("unsupported", match ? match[2] : "this browser cannot run MeshKit");
  }
  const timings = { pyodideMs, readyMs: performance.now() - started };
  return makeApi(py, pyodide, timings);
}

function makeApi(py, pyodide, timings) {
  const call = async (method, ...args) => unwrap(await py[method](...args));
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
    // seal(fileOrBytes, {from, to, name, onProgress}) -> {root, name, size, created, recipients}
    seal: (input, { from, to, name, onProgress } = {}) => {
      const blob = toBlob(input);
      return call("seal", blob, from, list(to), name || input.name || "", onProgress);
    },
    // open(root, {as, type, onProgress}) -> {blob, size, sender, created}: the Blob exists
    // only once every segment has been verified and authenticated
    open: (root, { as, type, onProgress } = {}) => call("open", root, as, type || "", onProgress),
    envelopes: (owner) => call("envelopes", owner),
    share: (root, { from, to, expires, policy } = {}) => call("share", root, from, to, expires, policy),
    revoke: (root, { from, to } = {}) => call("revoke", root, from, to),
    inbox: (as, { all = false } = {}) => call("inbox", as, all),
    ack: (as, messageId) => call("ack", as, messageId),
  };
}
