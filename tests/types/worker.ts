// Every member of MeshKitWorker (createMeshKitWorker's object) in an app's own service worker,
// type-checked by tests/sdk/test_sdk_docs.py (tsc --noEmit --strict, tsconfig.worker.json: lib
// "WebWorker") against sdk/index.d.ts, as an app written in TypeScript would use it.
// Never run: only compiled.
import { BUILD, MeshKitError, createMeshKitWorker, type MeshKitWorker, type WorkerSyncEvent } from "meshkit-web/worker";

declare const self: ServiceWorkerGlobalScope;

const mkw: MeshKitWorker = createMeshKitWorker({
  gateway: "https://gateway.example", namespace: "notes", prefix: "/files/", base: "/vendor/meshkit/",
});
createMeshKitWorker();
createMeshKitWorker({ gateway: new URL("https://gateway.example"), base: new URL("https://app.example/vendor/meshkit/") });

const facts: string[] = [mkw.namespace, mkw.prefix, mkw.build, BUILD];
const bootMs: number | undefined = mkw.timings.bootMs;
console.log(facts, bootMs);

self.addEventListener("install", (event) => event.waitUntil(mkw.install().then(() => self.skipWaiting())));
self.addEventListener("activate", (event) => event.waitUntil(mkw.activate().then(() => self.clients.claim())));
self.addEventListener("fetch", (event) => {
  if (mkw.handleFetch(event)) return;
  event.respondWith(fetch(event.request)); // the app's own
});
self.addEventListener("message", (event) => {
  if (!mkw.handleMessage(event)) console.log("the app's message", event.data);
});
// lib "WebWorker" has no SyncEvent types (Background Sync is Chromium's): the event as MeshKit reads it
self.addEventListener("sync", (event) => mkw.handleSync(event as WorkerSyncEvent));
self.addEventListener("periodicsync", (event) => mkw.handlePeriodicSync(event as WorkerSyncEvent));

// the app found its own files altered: MeshKit stops too, and the pages are told
export async function refuseIfAltered(altered: boolean): Promise<void> {
  if (!altered) return;
  const error: MeshKitError = mkw.refuse("integrity", "app.js", "does not match its build hash");
  const code: "integrity" | string = error.code;
  console.log(code, error.retryable);
  throw error;
}

// --- mistakes the types must refuse ---
// @ts-expect-error: a plain Event is not a fetch event
mkw.handleFetch(new Event("fetch"));
// @ts-expect-error: not an error code
mkw.refuse("altered", "app.js", "does not match");
// @ts-expect-error: the prefix is a path (text)
createMeshKitWorker({ prefix: 1 });
// @ts-expect-error: handle* answer booleans, not promises
const pending: Promise<boolean> = mkw.handleSync({} as WorkerSyncEvent);
console.log(pending);
