// Every member of MeshKit (createMeshKit's object) used as docs/SDK.md says, type-checked by
// tests/sdk/test_sdk_docs.py (tsc --noEmit --strict, tsconfig.json) against sdk/index.d.ts.
// Each `@ts-expect-error` line is a mistake the types must refuse: an index.d.ts that
// accepted anything (or any) would leave them unused, which tsc reports as an error.
// Never run: only compiled.
import {
  BUILD, ERRORS, MeshKitError, VERSION, createMeshKit, saveName, shown,
  type Capabilities, type CreatedIdentity, type Described, type Identity, type Job, type MeshKit,
  type MeshKitErrorCode, type MeshKitEvent, type Opened, type ProofInfo, type Sealed,
} from "meshkit-web";

export async function page(file: File): Promise<void> {
  const mk: MeshKit = await createMeshKit({
    gateway: "https://gateway.example",
    namespace: "notes",
    base: "/vendor/meshkit/",
    linkBase: location.origin + "/open",
    onProgress: ({ stage, loaded, total }) => console.log(stage, loaded, total),
  });
  await createMeshKit();
  await createMeshKit({ gateway: new URL("https://gateway.example"), base: new URL("/vendor/meshkit/", location.href),
    thread: "page" });

  // --- the object's own values ---
  const facts: string[] = [mk.version, mk.build, mk.namespace, mk.gateway, VERSION, BUILD];
  const ms: number = mk.timings.pyodideMs + mk.timings.readyMs;
  const debug: unknown = mk.pyodide;
  const thread: "worker" | "page" = mk.thread === (await mk.capabilities()).thread ? mk.thread : "worker";
  const background: "service-worker" | "caller-managed" = mk.background.mode;
  const caps: Capabilities = await mk.capabilities();
  const wrapped: boolean = caps.key_storage.mode === "wrapped" || caps.keys.storage === "wrapped";
  const gatewayState: "ok" | "offline" | "unavailable" = caps.gateway.state;
  const streaming: boolean = caps.background.streaming_urls;
  const bundle: Record<string, unknown> = await mk.diagnostics();
  console.log(facts, ms, debug, thread, background, wrapped, gatewayState, streaming, bundle, caps.recovery_kit["alice"]);

  // --- identities ---
  const alice: CreatedIdentity = await mk.identity.create("alice");
  const phrase: string = alice.recoveryPhrase;
  const mine: Identity[] = await mk.identity.list();
  const account: string | undefined = mine[0].account;
  const record = await mk.identity.record("alice");
  const contactLink: string = await mk.identity.contactLink("alice");
  const published: { id: string; fingerprint: string } = await mk.identity.publish("alice");
  const recovered = await mk.identity.recover("alice-laptop", phrase, { deviceName: "laptop" });
  const restored: number = recovered.restored;
  const confirmed: true = (await mk.identity.confirmRecoveryKit("alice", phrase)).confirmed;
  const replaced = await mk.identity.newRecoveryPhrase("alice");
  const newPhrase: string = replaced.recoveryPhrase;
  const kit: "confirmed" | "not confirmed" | "no account" = (await mk.identity.list())[0].recoveryKit;
  const sealedAgain: boolean = replaced.librarySealed;
  // @ts-expect-error a kit state is one of three strings
  const wrongKit: boolean = replaced.recoveryKit;
  console.log(account, record.enc_key, contactLink, published, restored, confirmed, newPhrase, kit, sealedAgain,
              wrongKit, replaced.rewrapped, replaced.accountVersion);
  const passkey = await mk.identity.addPasskey("alice", { phrase });
  const viaPasskey: number = (await mk.identity.recoverWithPasskey("alice-tablet", { deviceName: "tablet" })).restored;
  const passkeyIds: string[] = (await mk.identity.passkeys("alice")).map((p) => p.credentialId);
  const passkeyGone: string = (await mk.identity.removePasskey("alice", passkey.credentialId)).removed;
  const prf: boolean | "unknown" = (await mk.capabilities()).passkey_recovery.available;
  // @ts-expect-error: addPasskey needs the phrase
  await mk.identity.addPasskey("alice");
  console.log(passkey.created, viaPasskey, passkeyIds, passkeyGone, prf);

  // --- devices ---
  const devices = await mk.devices.list("alice");
  const fresh: boolean = devices.some((d) => d.new && !d.current);
  const { link } = await mk.devices.requestLink({ deviceName: "phone" });
  const approved = await mk.devices.approve("alice", link, { onCode: (code: string) => console.log(code) });
  const linked: Identity = await mk.devices.waitForLink(link, {
    timeout: 120,
    askCode: async (offers) => prompt(`code shown by ${offers[0].approverName} (${offers[0].fingerprint})`) ?? "",
  });
  const removed: string[] = (await mk.devices.remove("alice", [approved.device.id])).removed;
  await mk.devices.remove("alice", approved.device.id);
  console.log(fresh, linked.accountVersion, removed, approved.version);

  // --- contacts, QR ---
  const added = await mk.contacts.add(contactLink);
  await mk.contacts.add(record);
  await mk.contacts.add(JSON.stringify(record));
  const namesakes: string[] = added.sameNameAs;
  const contacts = await mk.contacts.list();
  const rows: string[] = await mk.qr(contactLink);
  console.log(namesakes, contacts[0].accountName, rows.length);

  // --- seal, open, share ---
  const sealed: Sealed = await mk.seal(file, {
    from: "alice", to: ["bob", "mkexampleid"], name: "report.pdf", mode: "resumable",
    onProgress: (done, total) => console.log(done / total),
  });
  await mk.seal("some text", { from: "alice" });
  await mk.seal(new Uint8Array([1, 2, 3]), { from: "alice", to: "bob", mode: "direct" });
  await mk.seal(new ArrayBuffer(8), { from: "alice", mode: "outbox" });
  const root: string = sealed.root;
  const job: string | undefined = sealed.status === "queued" ? sealed.job : undefined;
  const opened: Opened = await mk.open(root, { as: "bob", type: "application/pdf", onProgress: (d, t) => console.log(d, t) });
  const blob: Blob = opened.blob;
  const described: Described = await mk.describe(root, { as: "bob" });
  const saveAs: string = described.saveAs ?? saveName(described.name, "download");
  const url: string = await mk.openUrl(root, { as: "bob", name: "report.pdf", type: "application/pdf", download: true, ttl: 30 });
  const response: Response = await mk.openStream(root, { as: "bob", play: true });
  const envelopes = await mk.envelopes("alice");
  const shared = await mk.share(root, { from: "alice", to: "carol", expires: "7d", policy: "policy-ref" });
  await mk.share(root, { from: "alice", to: "carol", expires: Math.floor(Date.now() / 1000) + 3600 });
  const revoked: string[] = (await mk.revoke(root, { from: "alice", to: "carol" })).revoked;
  const access = await mk.access(root, { as: "alice" });
  const proofs: ProofInfo[] = await mk.proofs.list(root, { as: "alice" });
  const checked: ProofInfo = await mk.proofs.verify(proofs[0].data);
  const statement: "sealed" | "shared" = checked.statement;
  console.log(statement, checked.signer, checked.time);
  // @ts-expect-error -- a proof is bytes or text, not a number
  await mk.proofs.verify(42);
  const live: number = access.shares.filter((s) => s.state === "live").length;
  console.log(job, blob.size, saveAs, shown(described.name), url, response.body, envelopes[0].status, shared.capsules, revoked, live);

  // --- send links ---
  const sendLink = await mk.sendLinks.create(root, { from: "alice", expires: "1d", opens: 1 });
  const told: Described = await mk.sendLinks.describe(sendLink.link);
  const opensLeft: number | undefined = told.opensLeft;
  const got: Opened = await mk.sendLinks.open(sendLink.link, { onProgress: (d, t) => console.log(d, t) });
  await mk.sendLinks.open(sendLink.link);
  const closed: string = (await mk.sendLinks.revoke(sendLink.capsule, { from: "alice" })).revoked;
  const links = await mk.sendLinks.list(root, { as: "alice" });
  const usedUp: boolean = links.some((l) => l.state === "used_up" && l.opensUsed === l.opens);
  console.log(opensLeft, got.name, closed, usedUp, access.shares.filter((s) => !s.link).length);

  // --- managing my files ---
  const room = await mk.usage("alice");
  const free: number = room.storageQuota - room.stored + room.pinQuota - room.pinned;
  const unpinned: true = (await mk.unpin(root, { as: "alice" })).unpinned;
  const deleted = await mk.delete(root, { as: "alice" });
  const gone: boolean | undefined = deleted.inLibrary;
  const offline: boolean = envelopes.some((e) => e.cached === true);
  console.log(free, unpinned, gone, deleted.revoked.length + deleted.released + deleted.discarded.length, offline);
  // @ts-expect-error -- delete names who deletes
  await mk.delete(root);

  // --- app messages and records ---
  const sent = await mk.messages.send("mkbobsid", "lunch?", { from: "alice", kind: "app-chat" });
  await mk.messages.send("bob", new Uint8Array([1, 2]), { from: "alice" });
  const posted: number = sent.posted.length + sent.failed.length;
  const chat = await mk.messages.list("bob", { kind: "app-chat", limit: 20 });
  await mk.messages.list("bob", { kind: ["app-chat", "app-ping"], all: true });
  await mk.messages.list("bob");
  const message = await mk.messages.read("bob", chat[0].id);
  const body: string = message.text ?? new TextDecoder().decode(message.data);
  const senderAccount: string | undefined = message.senderAccount;
  const acked: true = (await mk.messages.ack("bob", message.id)).acked;
  const settings = await mk.records.get("alice", "settings");
  const version: number = settings ? settings.version : 0;
  const written = await mk.records.put("alice", "settings", JSON.stringify({ theme: "dark" }), { expectedVersion: version });
  await mk.records.put("alice", "blob", new ArrayBuffer(4));
  console.log(posted, body, senderAccount, acked, settings?.text, written.version, written.updatedByName);

  // --- inbox, outbox ---
  const messages = await mk.inbox("bob", { all: true });
  await mk.inbox("bob");
  for (const message of messages) {
    if (message.kind === "share" && message.share) console.log(message.share.root, message.share.capsule);
    const nothing: void = await mk.ack("bob", message.id);
    console.log(nothing);
  }
  const jobs: Job[] = await mk.jobs.list();
  const one: Job | undefined = await mk.jobs.get(jobs[0].id);
  const again: Job = await mk.jobs.retry(jobs[0].id);
  await mk.jobs.discard(jobs[0].id);
  await mk.jobs.run();
  const news: Record<string, number> | null = await mk.checkMailbox();
  console.log(one?.error?.code, again.state, news);

  // --- events ---
  const off: () => void = mk.onChange((event: MeshKitEvent) => {
    switch (event.type) {
      case "job": console.log(event.job.id, event.job.state); break;
      case "inbox": console.log(event.identity, event.new); break;
      case "background": console.log(event.background.mode); break;
      case "worker": console.log(event.state, event.code, event.file, event.message); break;
    }
  });
  off();
  mk.close();

  // --- errors ---
  try {
    await mk.open(root, { as: "bob" });
  } catch (error) {
    if (error instanceof MeshKitError) {
      const code: MeshKitErrorCode = error.code;
      const retry: boolean = error.retryable || ERRORS[code].retryable;
      console.log(code === "revoked", retry, ERRORS[code].message, ERRORS.integrity.status, error.file);
    }
  }
  new MeshKitError("unavailable", "the gateway is down", { file: "pyodide/pyodide.asm.wasm" });

  // --- mistakes the types must refuse ---
  // @ts-expect-error: seal needs its options (from)
  await mk.seal(file);
  // @ts-expect-error: from is required
  await mk.seal(file, { to: "bob" });
  // @ts-expect-error: not a mode
  await mk.seal(file, { from: "alice", mode: "later" });
  // @ts-expect-error: as is a name, not a number
  await mk.open(root, { as: 1 });
  // @ts-expect-error: a policy is a reference (text)
  await mk.share(root, { from: "alice", to: "carol", policy: { allow: true } });
  // @ts-expect-error: approve needs onCode
  await mk.devices.approve("alice", link);
  // @ts-expect-error: the account may be undefined
  const sure: string = mine[0].account;
  // @ts-expect-error: not an error code
  new MeshKitError("no_such_code");
  // @ts-expect-error: the namespace is a string
  await createMeshKit({ namespace: 1 });
  // @ts-expect-error: Core runs in a worker or on the page
  await createMeshKit({ thread: "main" });
  // @ts-expect-error: read-only
  mk.version = "2.0.0";
  // @ts-expect-error: no such method
  await mk.identity.delete("alice");
  // @ts-expect-error: an app's kinds start with "app-"
  await mk.messages.send("bob", "hi", { from: "alice", kind: "share" });
  // @ts-expect-error: there may be no record
  const surely: number = (await mk.records.get("alice", "settings")).version;
  console.log(surely);
  mk.onChange((event) => {
    // @ts-expect-error: an inbox event carries no job
    if (event.type === "inbox") console.log(event.job);
  });
  console.log(sure);
}
