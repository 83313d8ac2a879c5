// Types of the meshkit-web package: meshkit.js (the page) and meshkit-sw.js (the app's service
// worker). The reference is docs/SDK.md (shipped as SDK.md); versioning: CHANGELOG.md.

/** Every error code MeshKit can raise: the registry of meshkit_web/core/errors.py. */
export type MeshKitErrorCode = keyof typeof ERRORS | (string & {});

/** The one error type: `code` is from the registry (ERRORS), `retryable` says whether trying again may help. */
export declare class MeshKitError extends Error {
  constructor(code: MeshKitErrorCode, message?: string, more?: Record<string, unknown>);
  readonly name: "MeshKitError";
  readonly code: MeshKitErrorCode;
  readonly retryable: boolean;
  /** For code "integrity": the package file that did not match its build hash. */
  readonly file?: string;
}

/** The error registry: code -> HTTP status, whether retrying may help, the sentence a person reads. */
export declare const ERRORS: Record<string, { status: number; retryable: boolean; message: string }>;
/** The package's semver version. */
export declare const VERSION: string;
/** The hash of the runtime files (Pyodide, wheels) this package carries. */
export declare const BUILD: string;
/** Text from other people (names, file names) made safe to show: control, format and bidi characters as visible escapes. */
export declare function shown(text: unknown): string;
/** A name made safe to save a download under. */
export declare function saveName(name: unknown, fallback?: string): string;

export interface Progress { stage: "download" | "starting"; loaded: number; total: number }

export interface CreateMeshKitOptions {
  /** The gateway's URL (meshkit serve). Default: this page's origin. */
  gateway?: string;
  /** Names everything MeshKit keeps in this origin (IndexedDB, BroadcastChannel, sync tags, caches, locks). Default "default". 1-40 of [a-z0-9-]. */
  namespace?: string;
  /** Boot progress: bytes of the runtime downloaded, then "starting". */
  onProgress?: (progress: Progress) => void;
  /** Where this package is served, when a bundler moved meshkit.js away from its files. Default: meshkit.js's folder. */
  base?: string | URL;
  /** The page contact links and send links point to (their secret goes after "#"). Default: this page's URL. */
  linkBase?: string;
}

/** An identity (a device's keys) as every method answers it. */
export interface Identity {
  name: string;
  /** The device identity's id ("mk..."). */
  id: string;
  fingerprint: string;
  /** The account this device belongs to, as last verified in this browser; null if none. */
  account: string | null;
  accountFingerprint: string | null;
  accountVersion: number | null;
}

export interface CreatedIdentity extends Identity {
  published: true;
  /** The account's 24-word recovery phrase: shown to the user once, never stored by MeshKit. */
  recoveryPhrase: string;
}

export interface RecoveredIdentity extends Identity {
  /** How many envelopes of the account's library open again on this device. */
  restored: number;
}

export interface BackgroundReport {
  /** "service-worker": a worker running createMeshKitWorker for this namespace controls the page and Background Sync runs; else "caller-managed": the page drains the outbox while open. */
  mode: "service-worker" | "caller-managed";
  service_worker: boolean;
  background_sync: boolean;
  /** Whether openUrl/openStream work (the MeshKit worker controls this page). */
  streaming_urls: boolean;
  periodic_sync?: string;
  refused?: { code: string; file: string; message?: string };
  detail: string;
}

export interface Capabilities {
  namespace: string;
  gateway: { url: string; state: "ok" | "offline" | MeshKitErrorCode };
  runtime: string;
  crypto: { backend: string; algorithms: string[] };
  key_storage: { mode: string; detail: string };
  persistence: { mode: "indexeddb" | "memory"; detail: string };
  background: BackgroundReport;
  streaming: { mode: string; segment_size: number; detail: string };
  storage: { persistent: boolean; detail: string; [key: string]: unknown };
  recovery_kit: Record<string, string>;
  [key: string]: unknown;
}

export type Input = Blob | ArrayBuffer | ArrayBufferView | string;
export type ProgressCallback = (done: number, total: number) => void;

export interface SealOptions {
  /** The sealing identity's name or id. */
  from: string;
  /** Recipients: names (mine, then contacts) or ids (identity or account). The sender is always one. */
  to?: string | string[];
  /** The file name sealed into the envelope's metadata. Default: a File's name. */
  name?: string;
  onProgress?: ProgressCallback;
  /** "auto" (upload now, or queue when offline), "outbox" (always queue), "direct" (now or fail), "resumable". */
  mode?: "auto" | "outbox" | "direct" | "resumable";
}

export interface Sealed {
  root: string;
  name: string;
  size: number;
  created: number;
  recipients: string[];
  status: "uploaded" | "queued";
  job?: string;
  [key: string]: unknown;
}

export interface Opened {
  /** The plaintext: exists only once every segment was verified and authenticated. */
  blob: Blob;
  size: number;
  sender: string;
  created: number;
  name: string | null;
  type: string;
  mtime?: number | null;
  /** The sender's name made safe to save under. */
  saveAs: string;
}

export interface Described { name: string | null; type: string; size: number; mtime?: number | null; saveAs: string; sender: string; created: number }

export interface OpenUrlOptions {
  as: string;
  name?: string;
  type?: string;
  download?: boolean;
  /** A <video>/<audio> source, valid 30 minutes, answering HTTP Range. */
  play?: boolean;
  /** Seconds the link is valid (at most 60; play: 1800). */
  ttl?: number;
}

export interface Job {
  id: string;
  state: "staging" | "queued" | "uploading" | "retrying" | "done" | "failed" | "interrupted" | "discarded";
  name?: string;
  size: number;
  blocks: number;
  sent: number;
  attempts: number;
  root: string | null;
  error?: { code: string; message: string } | null;
  [key: string]: unknown;
}

export type MeshKitEvent =
  | { type: "job"; job: Job }
  | { type: "inbox"; identity: string; new: number }
  | { type: "background"; background: BackgroundReport }
  | { type: "worker"; state: "refused"; code: string; file: string; message: string };

export interface Device { id: string; name: string; added: number; new?: boolean; addedByName?: string; [key: string]: unknown }

export interface LinkOffer { account: string; fingerprint: string; accountName?: string; approverName?: string; [key: string]: unknown }

export interface InboxMessage { id: string; kind: string; sender: string | null; created: number | null; [key: string]: unknown }

export interface MeshKit {
  readonly version: string;
  readonly build: string;
  readonly namespace: string;
  readonly gateway: string;
  readonly timings: { pyodideMs: number; readyMs: number };
  /** What background work there is now (the same object as capabilities().background). */
  readonly background: BackgroundReport;
  capabilities(): Promise<Capabilities>;
  /** A redacted support bundle: no keys, tokens, phrases, file names or URL credentials. */
  diagnostics(): Promise<Record<string, unknown>>;
  identity: {
    /** A new device identity with its account; all or nothing (fails typed when the gateway cannot publish it). */
    create(name: string): Promise<CreatedIdentity>;
    list(): Promise<Identity[]>;
    /** The identity's public record (its keys), for people who add it as a contact. */
    record(name: string): Promise<Record<string, unknown>>;
    /** A short link (id + fingerprint) to send to people. */
    contactLink(name: string): Promise<string>;
    publish(name: string): Promise<Record<string, unknown>>;
    recover(name: string, phrase: string, options?: { deviceName?: string }): Promise<RecoveredIdentity>;
    /** The user typed the phrase back: the kit is confirmed as saved. */
    confirmRecoveryKit(name: string, phrase: string): Promise<Record<string, unknown>>;
  };
  devices: {
    list(name: string): Promise<Device[]>;
    /** On the new device: a link to show (QR) to a device of the account. */
    requestLink(options?: { deviceName?: string }): Promise<{ link: string; [key: string]: unknown }>;
    /** On a device of the account: approve the link; onCode shows the code the new device must type. */
    approve(name: string, link: string, options: { onCode: (code: string) => void }): Promise<{ device: Device; [key: string]: unknown }>;
    /** On the new device: wait for an approval; askCode returns the code the user typed. */
    waitForLink(link: string, options: { timeout?: number; askCode: (offers: LinkOffer[]) => Promise<string> | string }): Promise<Identity>;
    remove(name: string, deviceId: string | string[]): Promise<{ version: number; removed: string[] }>;
  };
  contacts: {
    /** A contact link, or a record (object or JSON). */
    add(record: string | Record<string, unknown>): Promise<Record<string, unknown>>;
    list(): Promise<Array<Record<string, unknown>>>;
  };
  /** A QR code of text, as rows of "0"/"1". */
  qr(text: string): Promise<string[]>;
  seal(input: Input, options: SealOptions): Promise<Sealed>;
  open(root: string, options: { as: string; type?: string; onProgress?: ProgressCallback }): Promise<Opened>;
  /** What an envelope holds, from its sealed metadata, without fetching the file. */
  describe(root: string, options: { as: string }): Promise<Described>;
  /** A one-time URL (through the app's MeshKit worker) that streams the plaintext. */
  openUrl(root: string, options: OpenUrlOptions): Promise<string>;
  openStream(root: string, options: OpenUrlOptions): Promise<Response>;
  envelopes(owner: string): Promise<Array<Record<string, unknown>>>;
  share(root: string, options: { from: string; to: string; expires?: string | number; policy?: Record<string, unknown> }): Promise<Record<string, unknown>>;
  revoke(root: string, options: { from: string; to: string }): Promise<{ revoked: unknown }>;
  access(root: string, options: { as: string }): Promise<{ recipients: Array<{ id: string; name: string | null }>; shares: Array<Record<string, unknown>> }>;
  sendLinks: {
    create(root: string, options: { from: string; expires?: string; opens?: number }): Promise<{ link: string; capsule: string; expires: number; opens: number; [key: string]: unknown }>;
    describe(link: string): Promise<{ name: string | null; type: string; size: number; saveAs: string; sender: string; opensLeft: number | null }>;
    open(link: string, options?: { onProgress?: ProgressCallback }): Promise<Opened>;
    revoke(capsule: string, options: { from: string }): Promise<Record<string, unknown>>;
  };
  inbox(as: string, options?: { all?: boolean }): Promise<InboxMessage[]>;
  ack(as: string, messageId: string): Promise<Record<string, unknown>>;
  jobs: {
    list(): Promise<Job[]>;
    get(id: string): Promise<Job>;
    retry(id: string): Promise<Job>;
    discard(id: string): Promise<Record<string, unknown>>;
    run(): Promise<unknown>;
  };
  checkMailbox(): Promise<unknown>;
  onChange(listener: (event: MeshKitEvent) => void): () => void;
  close(): void;
}

export declare function createMeshKit(options?: CreateMeshKitOptions): Promise<MeshKit>;

// --- meshkit-sw.js -----------------------------------------------------------------------------

export interface CreateMeshKitWorkerOptions {
  gateway?: string;
  /** Must equal the pages' createMeshKit namespace. */
  namespace?: string;
  /** The path streamed opens live under. Default "/meshkit/" ("/meshkit/<namespace>/" for another namespace). */
  prefix?: string;
  /** Where the package is served, when meshkit-sw.js was bundled into the app's worker script. */
  base?: string | URL;
}

/** Minimal shapes of the service worker events MeshKit handles (lib "webworker" has the full ones). */
export interface WorkerEvent { waitUntil(promise: Promise<unknown>): void }
export interface WorkerFetchEvent extends WorkerEvent { readonly request: Request; respondWith(response: Response | Promise<Response>): void }
export interface WorkerSyncEvent extends WorkerEvent { readonly tag: string; readonly lastChance?: boolean }
export interface WorkerMessageEvent extends WorkerEvent { readonly data: unknown; readonly origin: string; readonly ports: ReadonlyArray<MessagePort> }

export interface MeshKitWorker {
  readonly namespace: string;
  readonly prefix: string;
  readonly build: string;
  /** In the install event: caches the runtime files (each checked) for offline starts. */
  install(): Promise<void>;
  /** In the activate event: removes this namespace's caches of older releases. */
  activate(): Promise<void>;
  /** Each returns true when the event was MeshKit's and is being handled. */
  handleFetch(event: WorkerFetchEvent): boolean;
  handleSync(event: WorkerSyncEvent): boolean;
  handlePeriodicSync(event: WorkerSyncEvent): boolean;
  handleMessage(event: WorkerMessageEvent): boolean;
  /** Stop MeshKit in this worker for good (e.g. the app found its own script altered); pages are told. */
  refuse(code: string, file: string, why: string): MeshKitError;
}

export declare function createMeshKitWorker(options?: CreateMeshKitWorkerOptions): MeshKitWorker;
