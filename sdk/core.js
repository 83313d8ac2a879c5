// What the page module (meshkit.js) and the worker module (meshkit-sw.js) share: loading
// Pyodide and Core from the package's own files, every one checked against the build's
// hashes before Pyodide sees a byte of it, the namespace rule and MeshKit's typed errors.
//
// build.py bundles each entry point with this file, the generated integrity.js (the SHA-384
// of every file Core loads), namespace.js, errors.js and text.js, and Pyodide's two modules:
// an app pins one file (meshkit.js or meshkit-sw.js) and every byte of code is pinned.
import createPyodideModule from "./pyodide/pyodide.asm.mjs";
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { ERRORS } from "./errors.js";
import { BOOT_BYTES, BUILD, FILES, VERSION, WHEELS, WHEEL_MOUNT } from "./integrity.js";
import { NAMESPACES } from "./namespace.js";

export { BUILD, ERRORS, VERSION };

export class MeshKitError extends Error {
  constructor(code, message, more = {}) {
    super(message || (ERRORS[code] && ERRORS[code].message) || code);
    this.name = "MeshKitError";
    this.code = code;
    // from the one registry (meshkit_web/core/errors.py): may trying again help?
    this.retryable = !!(ERRORS[code] && ERRORS[code].retryable);
    Object.assign(this, more);
  }
}

// A runtime method's {ok, value} | {ok: false, code, message} as a value or a MeshKitError.
export function unwrap(result) {
  const plain = result && result.toJs ? result.toJs({ dict_converter: Object.fromEntries }) : result;
  if (result && result.destroy) result.destroy();
  if (!plain.ok) throw new MeshKitError(plain.code, plain.message);
  return plain.value;
}

// --- namespaces (meshkit_web/browser/namespace.py is the rule) -------------------------------
export const DEFAULT_NAMESPACE = NAMESPACES.default;

// {namespace, base, prefix}: base names the IndexedDB database and the BroadcastChannel,
// prefix the locks, sync tags, caches and messages.
export function namesOf(namespace = DEFAULT_NAMESPACE) {
  if (typeof namespace !== "string" || !new RegExp(NAMESPACES.pattern).test(namespace)) {
    throw new MeshKitError("invalid_argument", `namespace ${JSON.stringify(namespace)} is not one: 1-40 lower-case ` +
      "letters, digits and '-', starting with a letter or digit");
  }
  const rule = namespace === NAMESPACES.default ? NAMESPACES.legacy : NAMESPACES.scoped;
  const fill = (template) => template.replace("{ns}", namespace);
  const prefix = fill(rule.prefix);
  return { namespace, base: fill(rule.base), prefix, outboxTag: prefix + "outbox", mailboxTag: prefix + "mailbox",
    cache: prefix + BUILD };
}

// --- the package's files, checked -------------------------------------------------------------
// Where the package is served: the folder of the module that imports this, unless the app
// says (a bundler that moved the module, or a worker bundled into the app's own script).
export function packageBase(base, moduleUrl) {
  const url = new URL(base || "./", base ? globalThis.location.href : moduleUrl);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

const b64 = (buffer) => {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};
export const sha384 = async (buffer) => "sha384-" + b64(await crypto.subtle.digest("SHA-384", buffer));

// The path of ``url`` inside the package at ``base``, or null outside it.
export function packagePath(url, base) {
  const target = new URL(url, globalThis.location.href);
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) return null;
  return decodeURIComponent(target.pathname.slice(base.pathname.length));
}

// The build's hash of a package file Core loads (undefined: not a file Core may load).
export const expectedHash = (path) => FILES[path];
export const runtimeFiles = () => Object.keys(FILES);

// One fetch of a package file, checked: the bytes, or an "integrity" MeshKitError naming it.
export async function fetchChecked(url, path, fetcher = globalThis.fetch) {
  const expected = FILES[path];
  const altered = (why) => new MeshKitError("integrity",
    `${path} ${why}: this copy of MeshKit was altered after it was built, refusing to run it`, { file: path });
  if (!expected) throw altered("is not part of this release");
  const response = await fetcher(url);
  if (!response.ok) {
    throw new MeshKitError("unavailable", `MeshKit could not load ${path} (HTTP ${response.status})`, { file: path });
  }
  const body = await response.arrayBuffer();
  if (await sha384(body) !== expected) throw altered("does not match its build hash");
  return { body, response };
}

// Pyodide fetches its files itself (globalThis.fetch, looked up at call time): while it boots,
// a fetch of a package file is answered only once its SHA-384 equals the build's; a file the
// build does not list is refused. Every other URL passes untouched; the wrapper is removed
// once Core has started.
function verifyPackageFetches(base, failed, onBytes) {
  const inner = globalThis.fetch;
  const verified = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const path = packagePath(url, base);
    if (path === null) return inner(input, init);
    try {
      const { integrity, ...rest } = init || {};  // ours is the stronger check, and names the file
      const { body, response } = await fetchChecked(url, path, (u) => inner(u, rest));
      onBytes(body.byteLength);
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    } catch (error) {
      if (error.code === "integrity") failed(error);
      throw error;
    }
  };
  globalThis.fetch = verified;
  return () => { if (globalThis.fetch === verified) globalThis.fetch = inner; };
}

// Pyodide, our wheels and the Python runtime of ``namespace``, for a page or a worker.
// ``background`` (what capabilities() reports) may be a function giving a promise, called
// once the wheels are loaded; ``beforeStart`` (optional) runs then too, and may throw to stop
// before Core opens any storage. onProgress({stage, loaded, total}): "download" (bytes of
// BOOT_BYTES), then "starting".
export async function loadRuntime({ gateway, namespace, base, background, beforeStart, onProgress }) {
  const started = performance.now();
  let loadedBytes = 0;
  const report = (stage) => { if (onProgress) onProgress({ stage, loaded: loadedBytes, total: BOOT_BYTES }); };
  // Pyodide waits for ever when its wasm fetch fails: the first failed check ends the boot
  let failIntegrity;
  const integrityBroken = new Promise((_, reject) => { failIntegrity = reject; });
  integrityBroken.catch(() => {});
  const unwrapFetch = verifyPackageFetches(base, failIntegrity, (n) => { loadedBytes += n; report("download"); });
  report("download");
  let pyodide, wheels;
  try {
    pyodide = await Promise.race([integrityBroken, loadPyodide({
      indexURL: new URL("pyodide/", base).href,
      lockFileURL: new URL("pyodide/pyodide-lock.json", base).href, // must be absolute
      createPyodideModule,
      stdout: () => {},
      stderr: (line) => console.warn(line),
    })]);
    performance.mark("meshkit:pyodide-booted");  // the boot's phases, for profiles (bench/browser.py)
    // Our wheels go on sys.path as they are (zipimport; they carry Pyodide's bytecode, see
    // build.py): nothing unpacked, each checked against its build hash.
    wheels = await Promise.race([integrityBroken, Promise.all(WHEELS.map(async (name) => {
      const response = await fetch(new URL("wheels/" + name, base)).catch((error) => {
        throw error.code ? error : new MeshKitError("unavailable", `MeshKit could not load ${name}: ${error.message || error}`);
      });
      return [name, new Uint8Array(await response.arrayBuffer())];
    }))]);
  } finally {
    unwrapFetch();
  }
  const pyodideMs = performance.now() - started;
  pyodide.FS.mkdirTree(WHEEL_MOUNT);
  const sysPath = pyodide.pyimport("sys").path;
  for (const [name, bytes] of wheels) {
    pyodide.FS.writeFile(`${WHEEL_MOUNT}/${name}`, bytes);
    sysPath.insert(0, `${WHEEL_MOUNT}/${name}`);
  }
  sysPath.destroy();
  performance.mark("meshkit:wheels-loaded");
  report("starting");
  const module = pyodide.pyimport("meshkit_web.browser.runtime");
  performance.mark("meshkit:core-imported");
  // a function: started only now, so its work does not compete with Pyodide's boot
  const backgroundReport = await (typeof background === "function" ? background() : background);
  if (beforeStart) await beforeStart();
  try {
    const py = await module.start(gateway, pyodide.toPy(backgroundReport), namespace);
    performance.mark("meshkit:started");
    return { py, pyodide, pyodideMs };
  } catch (error) {
    // UnsupportedError (no X25519/Ed25519 in WebCrypto): say so plainly
    const match = /(\w+Error): (.*)$/m.exec(String(error.message || error));
    throw new MeshKitError("unsupported", match ? match[2] : "this browser cannot run MeshKit");
  }
}
