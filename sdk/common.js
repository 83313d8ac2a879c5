// What every module of the package shares, without Pyodide: MeshKit's typed errors, the
// namespace rule and checked fetches of the package's files. The page module (meshkit.js)
// imports only this, so it stays small; Core's loader (core.js) adds Pyodide.
import { ERRORS } from "./errors.js";
import { BUILD, FILES, VERSION } from "./integrity.js";
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

// The gateway's URL (default: this origin), or invalid_argument: http(s), no credentials,
// query or fragment. One rule for the page and the worker.
export function gatewayUrl(gateway, here = globalThis.location.href) {
  let url;
  try {
    url = new URL(gateway || new URL(here).origin, here);
  } catch {
    throw new MeshKitError("invalid_argument", `gateway ${JSON.stringify(String(gateway))} is not a URL`);
  }
  if (!["https:", "http:"].includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new MeshKitError("invalid_argument", "gateway must be an http(s) URL with no credentials, query or fragment");
  }
  return url.href.replace(/\/+$/, "");
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

// One fetch of a package file, checked: {body, response}, or an "integrity" MeshKitError
// naming it. The bytes hashed are a clone's: ``response`` is the browser's own, unread, with
// the same bytes (a tee of one stream) and its URL, so the compiled-code cache for the wasm
// still applies to it.
export async function fetchChecked(url, path, fetcher = globalThis.fetch, expected = FILES[path]) {
  const altered = (why) => new MeshKitError("integrity",
    `${path} ${why}: this copy of MeshKit was altered after it was built, refusing to run it`, { file: path });
  if (!expected) throw altered("is not part of this release");
  const response = await fetcher(url);
  if (!response.ok) {
    throw new MeshKitError("unavailable", `MeshKit could not load ${path} (HTTP ${response.status})`, { file: path });
  }
  const body = await response.clone().arrayBuffer();
  if (await sha384(body) !== expected) throw altered("does not match its build hash");
  return { body, response };
}

