// Core's loader, for the worker that hosts it for a page (meshkit-core.js) and for the app's
// service worker (meshkit-sw.js): Pyodide and Core from the package's own files, every one
// checked against the build's hashes before Pyodide sees a byte of it.
//
// build.py bundles each entry point with what it imports: the generated integrity.js (the
// SHA-384 of every file Core loads), namespace.js, errors.js and Pyodide's two modules. An
// app pins one file and every byte of code that file runs is pinned with it.
import createPyodideModule from "./pyodide/pyodide.asm.mjs";
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { MeshKitError, fetchChecked, packagePath } from "./common.js";
import { BOOT_BYTES, WHEELS, WHEEL_MOUNT } from "./integrity.js";

export * from "./common.js";

// Pyodide fetches its files itself (globalThis.fetch, looked up at call time): while it boots,
// a fetch of a runtime file (pyodide/, wheels/) is answered only once its SHA-384 equals the
// build's; one the build does not list is refused. Every other URL passes untouched; the
// wrapper is removed once Core has started.
function verifyPackageFetches(base, failed, onBytes) {
  const inner = globalThis.fetch;
  const verified = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const path = packagePath(url, base);
    // only what Core loads is Core's to check (an unlisted file there is refused); the app's
    // own requests, for meshkit.js or anything else, pass untouched
    if (path === null || !/^(pyodide|wheels)\//.test(path)) return inner(input, init);
    try {
      const { integrity, ...rest } = init || {};  // ours is the stronger check, and names the file
      const { body, response } = await fetchChecked(url, path, (u) => inner(u, rest));
      onBytes(body.byteLength);
      return response;  // the bytes just checked (a tee of the same stream)
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
