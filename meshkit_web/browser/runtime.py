"""The browser runtime: what ``globalThis.meshkit`` (static/meshkit.js) calls.

Wires Core to WebCrypto (non-extractable keys), IndexedDB (identities, contacts, my
envelopes) and the gateway over fetch. Every method returns ``{ok: true, value}`` or
``{ok: false, code, message}`` so JS gets MeshKit's typed error codes, never a Python
traceback (which could carry values). Files stream: a Blob is read one segment-sized
slice at a time and each block is uploaded as it is sealed; an open verifies each block's
CID before decrypting it and hands the page plaintext only once every segment has
authenticated (or, through the service worker, streams each segment once it has).

The same class runs in the page and in the service worker (static/sw.js): the worker
uses ``outbox_run``, ``open_stream`` and ``mailbox_check``.
"""

import json
import logging
import sys
import time

from ..clients import accounts
from ..clients.accounts import revoke_from, share_with
from ..clients.gateway import GatewayClient
from ..core import codec
from ..core.cid import cid_str, parse_cid
from ..core.clock import GatewayClock
from ..core.envelope import DEFAULT_SEGMENT_SIZE, read_header, seal
from ..core.contact_link import contact_fragment, linked_account, record_from_link
from ..core.diagnostics import RecentLog, redacted
from ..core.errors import (IdentityExistsError, InvalidArgumentError, LocalStorageFullError, MeshKitError,
                           UnknownIdentityError)
from ..core.identity import PublicIdentity, check_name, create_identity, record_from_json
from ..core.hpke import suite_name
from ..core.proof import verify_proof
from ..core.recipients import Reach, check_suite, resolve_reach
from ..core.urls import redact_url
from .account_api import AccountMethods, identity_json
from . import jsapi as arg
from .app_data_api import AppDataMethods
from .blob_source import BlobSource
from .files_api import FileMethods
from .fetch_client import FetchTransport
from .ffi import broadcast, js, js_bytes, use_namespace
from .indexeddb import IdentityStore, open_store
from .jsapi import api, api_names
from .namespace import DEFAULT as DEFAULT_NAMESPACE
from .opened import as_blob, described
from .outbox import TEMPORARY, Outbox
from .send_api import SendLinkMethods
from .webcrypto import WebCryptoBackend

log = logging.getLogger("meshkit.browser")

# Blob slices of 4 MiB read at ~420 MiB/s in Chromium, 1 MiB ones at ~150 (per-read cost);
# Core cuts them into segments. Two slices (this one and the next) are in memory at most.


def _progress(report, total: int):
    """A per-block callback that reports plaintext bytes done to ``report(done, total)``
    (a sealed block is its segment plus a 16-byte tag)."""
    done = 0

    def block_done(block_size: int) -> None:
        nonlocal done
        done = min(total, done + max(0, block_size - 16))
        if report:
            report(done, total)
    return block_done


class Runtime(AccountMethods, SendLinkMethods, AppDataMethods, FileMethods):
    def __init__(self, gateway: str, backend: WebCryptoBackend, store: IdentityStore, fallback_reason: str | None,
                 background: dict | None = None):
        self.gateway = gateway.rstrip("/")
        # who uploads the outbox: "service-worker" (Background Sync) or "caller-managed"
        # (this page, while it is open); decided by the JS side, which registers the worker
        self.background = background or {"mode": "caller-managed", "detail": "uploads run while this page is open"}
        self.backend = backend
        self.store = store
        self.fallback_reason = fallback_reason
        self.transport = FetchTransport(backend)  # every client's requests go by fetch
        self._clients: dict[tuple[str, str], GatewayClient] = {}
        self._clocks: dict[str, GatewayClock] = {}  # per gateway, shared by its clients (core.clock)
        self.outbox = Outbox(store.db, self._client, on_done=self._uploaded)
        self.recent_log = RecentLog.install()  # what "Copy diagnostics" shows of this session
        # who a device is (its person, by the account chain verified here; kept in IndexedDB)
        self.people = accounts.People(store)

    # --- helpers -------------------------------------------------------------------------
    def _new_client(self, base_url: str, backend, identity=None) -> GatewayClient:
        """A client over fetch (as clients.send_links makes one: ``new_client(url, backend, identity)``)."""
        return GatewayClient(base_url, backend, identity, transport=self.transport)

    async def _identity(self, name: str):
        identity = await self.store.load_identity(name)
        if identity is None:
            raise UnknownIdentityError(f"no identity named {name!r} in this browser")
        return identity

    async def _client(self, name: str, gateway: str | None = None) -> GatewayClient:
        identity = await self._identity(name)
        gateway = (gateway or self.gateway).rstrip("/")
        client = self._clients.get((identity.id, gateway))
        if client is None:
            client = self._clients[identity.id, gateway] = GatewayClient(
                gateway, self.backend, identity, transport=self.transport, clock=self._clock(gateway))
            client.library_keeper = self.store  # the library as verified here outlives the page (IndexedDB)
        return client

    def _clock(self, gateway: str) -> GatewayClock:
        return self._clocks.setdefault(gateway.rstrip("/"), GatewayClock())

    async def _clock_report(self) -> dict:
        """How far this device's clock is from the gateway's (asked now if no reply said yet)."""
        clock = self._clock(self.gateway)
        await GatewayClient(self.gateway, self.backend, clock=clock, transport=self.transport).gateway_now()
        return clock.report()

    async def _any_client(self) -> GatewayClient:
        """A client for directory and account lookups (which need no identity's token)."""
        mine = await self.store.identities()
        if not mine:
            raise UnknownIdentityError("no identity in this browser yet")
        return await self._client(mine[0].name)

    async def _reach(self, client: GatewayClient, who) -> Reach:
        """Core's one rule (core.recipients): an id means exactly that id (mine, a contact's,
        or the directory's verified record, then kept as a contact); a name means only a
        local name, my identities' before contacts'; a person with an account is reached
        through its current devices and recovery key (the account kept here, never rolled back)."""
        async def directory(ident: str) -> PublicIdentity:
            public = await client.resolve(ident)
            await self.store.add_contact(public)
            return public

        return await resolve_reach(who if isinstance(who, str) else None, own=await self.store.identities(),
                                   contacts=await self.store.contacts(), directory=directory,
                                   account=lambda ident: self.people.reaching(client, ident))

    async def _kept_pq_key(self, ident: str) -> bytes | None:
        """The X-Wing key of the contact kept here as ``ident``; None when there is none, or
        when the kept row no longer verifies (damaged: a good record may replace it)."""
        try:
            kept = await self.store.contact(ident)
        except MeshKitError as exc:
            log.warning("a stored contact no longer verifies (%s): it may be replaced", exc.code)
            return None
        return kept.pq_key if kept else None

    async def _local_people(self) -> dict:
        """{id: PublicIdentity} of my identities and contacts (names chosen here)."""
        return {p.id: p for p in await self.store.contacts() + await self.store.identities()}

    async def _with_sender(self, client: GatewayClient, answer: dict) -> dict:
        """``answer`` (a described envelope) with who its sender is (accounts.person_fields)."""
        person = await self.people.person(client, answer.get("sender"))
        local = (await self._local_people()).get(answer.get("sender"))
        return {**answer, **accounts.person_fields(person, "sender", local)}

    async def _with_senders(self, client: GatewayClient, rows: list) -> list:
        """Inbox rows, each with who its (proven) sender is: for a share, its sharer."""
        people = await self.people.people(client, {row.get("sender") for row in rows})
        local = await self._local_people()
        return [{**row, **accounts.person_fields(people.get(row.get("sender")), "sender", local.get(row.get("sender")))}
                for row in rows]

    def _lookup_client(self) -> GatewayClient:
        """A client for account lookups, which need no identity (a send link's visitor has none)."""
        return GatewayClient(self.gateway, self.backend, clock=self._clock(self.gateway), transport=self.transport)

    # --- the API -------------------------------------------------------------------------
    def api_names(self) -> list:
        """What a page may call by name (meshkit-core.js checks every call against it)."""
        return api_names(self)

    @api
    async def capabilities(self) -> dict:
        return await self._capabilities()

    @api
    async def set_background(self, report) -> dict:
        """What background work there is now: the page learns late that its service worker
        refused to run (a file that did not match its build hash)."""
        self.background = arg.py(report)
        return self.background

    async def _capabilities(self) -> dict:
        return {
            "runtime": f"pyodide (Python {sys.version.split()[0]})",
            "crypto": {"backend": self.backend.name, "algorithms": ["X25519", "Ed25519", "AES-256-GCM",
                                                                     "HKDF-SHA256"]},
            "key_storage": ({"mode": "non-extractable", "detail": "WebCrypto CryptoKey objects: private keys "
                             "cannot be exported, not even by this page"}
                            if self.backend.x25519_wrapped_because is None else
                            {"mode": "wrapped", "detail": self.backend.key_report()["detail"]}),
            "keys": self.backend.key_report(),  # how each private key is held and stored, exactly
            "post_quantum": self.backend.pq_report(),  # X-Wing keys here, and whether seals wrap with it
            "persistence": ({"mode": "indexeddb", "detail": "identities survive reloads and restarts"}
                            if self.store.db.persistent else
                            {"mode": "memory", "detail": "IndexedDB unavailable (" + str(self.fallback_reason)
                             + "): identities are lost when the page closes"}),
            "background": self.background,
            "streaming": {"mode": "segments", "segment_size": DEFAULT_SEGMENT_SIZE,
                          "detail": "files are read and sealed one segment at a time; every block's CID "
                                    "is verified before it is decrypted"},
            "storage": await _storage_report(),
            "recovery_kit": await self.kit_states(),
        }

    @api
    async def diagnostics(self) -> dict:
        """A support bundle for "Copy diagnostics": versions, the capability report, the
        configuration, identities (public ids), outbox jobs (states and error codes; no file
        names) and this session's recent log. Built from public facts, then redacted again
        (core.diagnostics, the same rule as ``meshkit doctor``)."""
        from .. import __version__
        import pyodide
        jobs = [{"id": j["id"], "state": j["state"], "size": j["size"], "blocks": j["blocks"], "sent": j["sent"],
                 "attempts": j["attempts"], "error": (j.get("error") or {}).get("code")}
                for j in await self.outbox.jobs()]
        identities = [{"name": p.name, "id": p.id, "fingerprint": p.fingerprint}
                      for p in await self.store.identities()]
        return redacted({
            "meshkit": __version__, "pyodide": pyodide.__version__, "made": int(time.time()),
            "user_agent": str(js.navigator.userAgent), "online": bool(js.navigator.onLine),
            "config": {"gateway": redact_url(self.gateway)},
            "capabilities": await self._capabilities(), "identities": identities, "outbox": jobs,
            "clock": await self._clock_report(),
            "log": list(self.recent_log.lines),
        })

    @api
    async def identity_create(self, name, device_name=None) -> dict:
        """``name``: this identity's (the person's) and its account's; ``device_name``: this
        device's name in the account (devices.list), by default said from the platform."""
        name = arg.text(name, "the identity's name")
        device_name = arg.text(device_name, "identity.create's deviceName", default="") or _platform_name()
        check_name(device_name)
        if await self.store.load_identity(name) is not None:
            raise IdentityExistsError(f"an identity named {name!r} already exists in this browser")
        identity = await create_identity(self.backend, name, int(time.time()))
        await self.store.save_identity(identity)
        # all or nothing: an identity the gateway never heard of, or one without its account
        # and recovery phrase, is not kept (the caller gets the gateway's typed error)
        try:
            await (await self._client(name)).publish()
            phrase, record = await self._create_account(name, device_name)  # the phrase is in this answer only
        except BaseException as exc:
            log.warning("identity %s not created: %s", identity.id, getattr(exc, "code", type(exc).__name__))
            await self.store.db.delete("identities", name)
            await self.store.db.delete("accounts", name)
            self._clients = {key: c for key, c in self._clients.items() if key[0] != identity.id}
            raise
        return {**identity_json(identity.public, record), "published": True, "recoveryPhrase": phrase}

    @api
    async def identity_list(self) -> list:
        """My identities (devices), each with its account (refreshed when the gateway answers,
        so ``recoveryKit`` is account-wide), if any."""
        return [identity_json(public, *await self.fresh_account(public.name))
                for public in await self.store.identities()]

    @api
    async def identity_record(self, name) -> dict:
        name = arg.text(name, "the identity's name")
        account, _ = await self.store.load_account(name)
        return {**_public_json((await self._identity(name)).public), **({"account": account.id} if account else {})}

    @api
    async def identity_contact_link(self, name) -> str:
        """The fragment of my short contact link (the page puts its own origin before it)."""
        name = arg.text(name, "the identity's name")
        account, _ = await self.store.load_account(name)
        return contact_fragment((await self._identity(name)).public, account.id if account else None)

    @api
    async def identity_publish(self, name) -> dict:
        return await (await self._client(arg.text(name, "the identity's name"))).publish()

    @api
    async def contact_add(self, record) -> dict:
        """A contact link (short: id + fingerprint, the record fetched from the directory and
        checked against both; or long: the record in the link), a record's JSON text, or an
        object. The answer says when another contact already has that name."""
        record = arg.py(record)
        claimed = None  # the account the link or record says this is a device of: checked below
        if isinstance(record, str) and not record.strip().startswith("{"):
            async def directory(ident: str) -> PublicIdentity:
                return await (await self._any_client()).resolve(ident)
            claimed = linked_account(record)
            record = await record_from_link(record, directory)
        if isinstance(record, str):
            try:
                record = json.loads(record)
            except ValueError:
                raise InvalidArgumentError("that is neither a contact link nor a public record") from None
        claimed = claimed or (record.get("account") if isinstance(record, dict) else None)
        public = await record_from_json(self.backend, record)
        check_suite(public, await self._kept_pq_key(public.id))  # never a hybrid contact made classic
        if isinstance(claimed, str):  # verified before anything is kept: a link that lies adds nothing
            await self.people.vouched(await self._any_client(), public, claimed)
        namesakes = [c for c in await self.store.contacts() if c.name == public.name and c.id != public.id]
        await self.store.add_contact(public)
        answer = {**_public_json(public), "sameNameAs": [c.id for c in namesakes]}
        person = None
        try:  # the account it is a device of, if any: shown with the contact, kept against rollback
            reach = await self._reach(await self._any_client(), public.id)
            if reach.account:
                answer.update(account=reach.id, accountName=reach.name, accountFingerprint=reach.fingerprint)
                person = reach.id
        except MeshKitError as exc:
            log.info("contact %s added; its account is not known yet (%s)", public.id, exc.code)
        try:  # and in my account's library, for my other devices (with the account checked here)
            await self.remember_contact(public, person)
        except MeshKitError as exc:
            log.info("contact %s kept here; not in the library yet (%s)", public.id, exc.code)
        return answer

    @api
    async def contact_list(self) -> list:
        """Contacts, each with the account it is a device of, as verified here (a seal or share
        to the contact reaches that account's current devices)."""
        try:
            await self.sync_contacts()
        except MeshKitError as exc:  # offline: the contacts this browser has
            log.info("contacts not synced from the library (%s)", exc.code)
        rows = []
        for public in await self.store.contacts():
            kept = await self.store.known_account(public.id)
            rows.append({"name": public.name, "id": public.id, "fingerprint": public.fingerprint,
                         "account": kept.record.id if kept else None,
                         "accountName": kept.record.name if kept else None,
                         "accountFingerprint": kept.record.fingerprint if kept else None})
        return rows

    @api
    async def qr(self, value) -> list:
        """The modules of a QR code for ``value`` (at most 512 characters): rows of "0"/"1"."""
        import qrcode  # pure Python; the page draws the modules itself (no image formats)
        text = arg.text(value, "a QR code's text")
        if len(text) > 512:
            raise InvalidArgumentError("a QR code here holds at most 512 characters")
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        code.add_data(text)
        code.make(fit=True)
        return ["".join("1" if cell else "0" for cell in row) for row in code.get_matrix()]

    @api
    async def seal(self, blob, sender, to, filename="", on_progress=None, mode="auto") -> dict:
        """mode "direct": upload now or fail; "outbox": stage for the background uploader;
        "auto": direct when online, and into the outbox when offline or when the gateway
        is down or refuses for now (the file is sealed again: nothing half-sent is reused);
        "resumable" (the app's): staged first where this browser keeps the outbox (so a
        closed tab loses nothing), straight up when it cannot (memory only, or no room)."""
        sender, filename = arg.text(sender, "seal's from"), arg.text(filename, "seal's name", default="")
        on_progress = arg.callback(on_progress, "seal's onProgress")
        mode = arg.text(mode, "seal's mode", default="auto")
        if mode not in ("auto", "direct", "outbox", "resumable"):
            raise InvalidArgumentError("mode must be auto, direct, outbox or resumable")
        resumable = mode == "resumable"
        if resumable:
            mode = "outbox" if self.store.db.persistent else "auto"
        client = await self._client(sender)
        chosen = [await self._reach(client, who) for who in (arg.optional(to) or [])]
        recipients = accounts.seal_recipients(chosen, await self.account_for_seal(sender))
        modified = getattr(blob, "lastModified", None)
        described = {"name": filename, "type": str(getattr(blob, "type", "") or ""),
                     "mtime": int(modified) // 1000 if isinstance(modified, (int, float)) else None}
        # "type": this browser's list offers Play for audio and video
        entry = {"name": filename or "untitled", "size": int(blob.size), "created": int(time.time()),
                 "recipients": [r.id for r in chosen], "type": described["type"]}
        sealing = (client, blob, recipients, on_progress, described)
        online = bool(js.navigator.onLine)
        if online or mode == "direct":  # too big is said now, not after staging or uploading
            try:
                await client.check_room(entry["size"], len(recipients) + 1)  # and the sender (include_sender)
            except MeshKitError as exc:
                if mode == "direct" or exc.code not in TEMPORARY:
                    raise
                entry["queued_because"] = exc.code  # the app says why: offline is not "slow down"
        if mode == "direct" or (mode == "auto" and online and "queued_because" not in entry):
            try:
                return await self._upload_now(sender, entry, *sealing)
            except MeshKitError as exc:
                if mode == "direct" or exc.code not in TEMPORARY:
                    raise
                log.info("gateway unavailable (%s): sealing into the outbox", exc.code)
                entry["queued_because"] = exc.code  # the app says why: offline is not "slow down"
        try:
            return await self._stage(entry, *sealing)
        except OSError as exc:  # IndexedDB refused the blocks (this browser's storage is full)
            if not (resumable and online):
                raise LocalStorageFullError(f"this browser cannot keep the file while it uploads ({exc})") from None
            log.info("no room to stage (%s): uploading directly", exc)
            return await self._upload_now(sender, entry, *sealing)

    async def _upload_now(self, sender, entry, client, blob, recipients, report, described) -> dict:
        root = await self._seal_direct(client, blob, recipients, report, described)
        entry.update(root=cid_str(root), job=None, status="uploaded")
        await self.store.add_envelope(client.identity.id, entry)
        await self._uploaded({**entry, "owner": sender})
        return entry

    async def _stage(self, entry, client, blob, recipients, report, described) -> dict:
        job = await self.outbox.stage(client, self._sealed_blocks(client, blob, recipients, report, described),
                                      gateway=self.gateway, name=entry["name"], size=entry["size"],
                                      recipients=entry["recipients"])
        entry.update(root=job["root"], job=job["id"], status="queued")
        await self.store.add_envelope(client.identity.id, entry)
        return entry

    async def _uploaded(self, job: dict) -> None:
        """An upload finished (an outbox job's or a direct one): the envelope goes into the
        account's library, for the account's other devices and a recovery. The seal stands
        whether or not that lands: its bytes are stored and pinned."""
        try:
            await self.remember_in_library(job["owner"], parse_cid(job["root"]), job)
        except MeshKitError as exc:
            log.info("uploaded %s; not in the library yet (%s)", job["root"], exc.code)

    async def _seal_direct(self, client, blob, recipients, report, metadata):
        root = await client.seal_upload(BlobSource(blob), recipients=recipients,
                                        on_block=_progress(report, int(blob.size)), metadata=metadata)
        if report:
            report(int(blob.size), int(blob.size))
        return root

    async def _sealed_blocks(self, client, blob, recipients, report, metadata):
        progress = _progress(report, int(blob.size))
        async for block in seal(self.backend, BlobSource(blob), sender=client.identity,
                                recipients=recipients, now=int(time.time()), metadata=metadata):
            yield block
            progress(len(block.data))

    # --- the outbox ----------------------------------------------------------------------
    @api
    async def jobs(self) -> list:
        return await self.outbox.jobs()

    @api
    async def job(self, job_id) -> dict | None:
        return await self.outbox.job(arg.text(job_id, "a job id"))

    @api
    async def job_retry(self, job_id) -> dict:
        return await self.outbox.retry(arg.text(job_id, "a job id"))

    @api
    async def job_discard(self, job_id) -> None:
        await self.outbox.discard(arg.text(job_id, "a job id"))

    @api
    async def outbox_run(self, budget=None) -> str:
        """Upload what the outbox holds: "idle" when empty, "pending" when jobs wait for a
        retry later than ``budget`` seconds from now."""
        return await self.outbox.run(arg.number(budget, "budget", whole=False, default=float("inf")))

    # --- the mailbox in the background ---------------------------------------------------
    @api
    async def mailbox_check(self) -> dict:
        """Fetch every identity's inbox; remember messages in IndexedDB and tell open pages
        about new ones. Returns {identity name: number of new messages}."""
        news = {}
        for public in await self.store.identities():
            client = await self._client(public.name)
            rows = [_inbox_row(r) for r in await client.inbox()]
            news[public.name] = await self._remember_messages(public, rows)
        return news

    async def _remember_messages(self, identity, rows: list) -> int:
        """Keep what the gateway said in IndexedDB and tell open pages about the messages
        this browser had not seen. The page and the worker both look at the mailbox, so
        whichever sees a message first announces it (else the other's look finds it known
        and nobody ever does). Returns how many shares and sealed files were new."""
        known = {message["id"] for message in await self.store.messages(identity.id)}
        for row in rows:
            await self.store.remember_message(identity.id, row)
        fresh = sum(1 for row in rows if row["id"] not in known and row["kind"] in ("share", "sealed"))
        if fresh:
            broadcast({"type": "inbox", "identity": identity.name, "new": fresh})
        return fresh

    @api
    async def open(self, root, as_name, media_type="", on_progress=None):
        client = await self._client(arg.text(as_name, "open's as"))
        return await self._with_sender(client, await as_blob(
            await client.open(arg.cid(root)), arg.text(media_type, "open's type", default=""),
            arg.callback(on_progress, "open's onProgress")))

    @api
    async def describe(self, root, as_name) -> dict:
        """What an envelope holds (its sealed metadata), without fetching its segments and
        never at the cost of one of a limited share's opens (GatewayClient.describe); with
        who sealed it: the person (senderAccount, senderName, senderFingerprint)."""
        client = await self._client(arg.text(as_name, "describe's as"))
        return await self._with_sender(client, described(await client.describe(arg.cid(root))))

    @api
    async def envelopes(self, owner) -> list:
        """This browser's envelopes of ``owner`` and, for a device of an account, the account's
        library (what its other devices sealed). Offline (the gateway unavailable): the library
        as last verified here (kept in IndexedDB), every row then ``cached: true``."""
        owner = arg.text(owner, "the owner's name")
        identity = await self._identity(owner)
        done = {job["id"] for job in await self.outbox.jobs() if job["state"] == "done"}
        # a queued envelope is uploaded once its outbox job is done
        rows = [{**{k: v for k, v in row.items() if k not in ("key", "owner")},
                 **({"status": "uploaded"} if row.get("job") in done else {})}
                for row in await self.store.envelopes(identity.id)]
        seen = {row["root"] for row in rows}
        try:
            library = await self.library_envelopes(owner)
        except MeshKitError as exc:
            if exc.code != "unavailable":
                raise
            library = await self.library_envelopes(owner, cached=True)
            rows = [{**row, "cached": True} for row in rows]
        return rows + [row for row in library if row["root"] not in seen]

    @api
    async def share(self, root, sender, to, expires=None, policy=None) -> dict:
        client = await self._client(arg.text(sender, "share's from"))
        reach = await self._reach(client, arg.py(to))
        expires = await client.expiry(arg.optional(expires))
        root = arg.text(root, "root")
        capsules = await share_with(client, arg.cid(root), reach, expires=expires,
                                    policy=arg.text(policy, "share's policy", default=None))
        return {"capsule": cid_str(capsules[0].cid), "capsules": [cid_str(c.cid) for c in capsules],
                "root": root, "to": reach.id, "account": reach.account, "expires": capsules[0].expires}

    @api
    async def proofs_list(self, root, as_name) -> list:
        """The signed proofs the gateway holds for ``root`` (who sealed it, who shared it with
        whom, until when), each verified here (clients.gateway.GatewayClient.proofs)."""
        client = await self._client(arg.text(as_name, "proofs.list's as"))
        return [_proof_json(proof) for proof in await client.proofs(arg.cid(root))]

    @api
    async def proof_verify(self, data) -> dict:
        """A proof's bytes, from anywhere, checked offline: its shape, the signer's id against
        its key, and the signature (typed errors: malformed, bad_signature)."""
        data = arg.data(data, "a proof")
        return _proof_json(await verify_proof(self.backend, codec.b64d(data) if isinstance(data, str) else data))

    @api
    async def access(self, root, as_name) -> dict:
        """Who can open an envelope: the recipients in its header (for good: their key is in
        it) and the shares this identity made (live, expired, used up or revoked), with names
        where known here, and each one's person (account, accountName, accountFingerprint,
        formerDevice: verified through the account's chain) to group them by, and for a header
        recipient the ``suite`` its entry is wrapped with ("x-wing" or "x25519"); a send link's
        share is marked ``link: true`` (it is no person)."""
        as_name = arg.text(as_name, "access's as")
        client = await self._client(as_name)
        binary = arg.cid(root)
        header = await read_header(self.backend, binary, client.get_block)
        shares = await client.shares_made(binary)
        known = {ident: public.name for ident, public in (await self._local_people()).items()}
        people = await self.people.people(client, [e.recipient for e in header.recipients]
                                          + [row["recipient"] for row in shares])
        account, _ = await self.store.load_account(as_name)
        links = await accounts.link_capsules(client, await self._account(as_name) if account else None)
        return {
            "recipients": [{"id": e.recipient, "name": known.get(e.recipient), "suite": suite_name(e.kem),
                            **accounts.person_fields(people.get(e.recipient), "")} for e in header.recipients],
            "shares": [{"capsule": row["cid"], "to": row["recipient"], "name": known.get(row["recipient"]),
                        "expires": row["expires"], "state": row["state"], "link": row["cid"] in links,
                        **accounts.person_fields(people.get(row["recipient"]), "")} for row in shares],
        }

    @api
    async def revoke(self, root, sender, to) -> dict:
        client = await self._client(arg.text(sender, "revoke's from"))
        reach = await self._reach(client, arg.py(to))
        return {"revoked": await revoke_from(client, arg.cid(root), reach)}

    @api
    async def inbox(self, as_name, include_acked=False) -> list:
        """From the gateway; offline, the messages last seen (by the page or the worker)."""
        as_name, include_acked = arg.text(as_name, "inbox's as"), arg.flag(include_acked)
        client = await self._client(as_name)
        try:
            rows = [_inbox_row(r) for r in await client.inbox(include_acked)]
        except MeshKitError as exc:
            if exc.code != "unavailable":
                raise
            rows = [{**m, "cached": True} for m in await self.store.messages(client.identity.id)]
            rows = sorted((r for r in rows if include_acked or not r["acked"]), key=lambda r: r["created"] or 0)
            return await self._with_senders(client, rows)  # offline: as kept here
        await self._remember_messages(client.identity, rows)
        if include_acked:
            try:  # what the account's other devices received
                rows = rows + await self.library_shares(as_name, rows)
            except MeshKitError as exc:
                if exc.code != "unavailable":
                    raise
        return await self._with_senders(client, rows)

    @api
    async def ack(self, as_name, message_id) -> None:
        client = await self._client(arg.text(as_name, "ack's as"))
        message_id = arg.text(message_id, "a message id")
        await client.ack(message_id)
        seen = await self.store.message(client.identity.id, message_id)
        if seen is not None:
            await self.store.remember_message(client.identity.id, {**seen, "acked": True})

    # --- streaming open (the service worker) ---------------------------------------------
    @api
    async def open_stream(self, root, identity_id) -> dict:
        """Open for streaming as the identity with this id (the worker's one-time grant names
        an id, never a local name, which anyone could guess): the header is verified and the
        key unwrapped here (so refusals come before any byte); ``reader.read()`` then gives one
        authenticated segment at a time, each block's CID verified before it is decrypted;
        ``reader.select(start, end)`` before the first read: only bytes [start, end) (an HTTP
        Range), from their segments only."""
        identity_id = arg.text(identity_id, "openStream's identity id")
        mine = [p for p in await self.store.identities() if p.id == identity_id]
        if not mine:
            raise UnknownIdentityError("no identity with that id in this browser")
        client = await self._client(mine[0].name)
        if client.identity.id != identity_id:  # renamed/replaced between the two reads
            raise UnknownIdentityError("no identity with that id in this browser")
        opened = await client.open(arg.cid(root))
        return {**described(opened), "reader": PlaintextReader(opened)}


async def _storage_report() -> dict:
    """Whether the browser promised to keep this site's data (navigator.storage.persist(),
    asked for at start by meshkit.js): without it, a storage eviction can lose identities."""
    storage = getattr(js.navigator, "storage", None)
    if storage is None or not hasattr(storage, "persisted"):
        return {"persistent": False, "detail": "this browser cannot promise to keep the data"}
    persistent = bool(await storage.persisted())
    return {"persistent": persistent, "detail": "the browser keeps this site's data" if persistent else
            "the browser may evict this site's data under storage pressure: keep the recovery kit"}


class PlaintextReader:
    """One open envelope's plaintext for a JS ReadableStream: read() -> Uint8Array | null."""

    def __init__(self, opened):
        self._opened = opened
        self._segments = opened.plaintext()
        self._started = False

    @api
    async def select(self, start, end) -> None:
        """Read only bytes [start, end) instead (before the first read)."""
        if self._started:
            raise InvalidArgumentError("select() comes before the first read")
        start, end = arg.number(start, "select()'s start"), arg.number(end, "select()'s end")
        self._opened.segments_for(start, end)  # outside the file: refused here
        self._segments = self._opened.plaintext(start, end)

    @api
    async def read(self):
        self._started = True
        try:
            chunk = await self._segments.__anext__()
        except StopAsyncIteration:
            return None
        array = js.Uint8Array.new(len(chunk))
        array.assign(chunk)
        return array

    @api
    async def cancel(self) -> None:
        await self._segments.aclose()


def _inbox_row(r: dict) -> dict:
    return {"id": r["id"], "kind": r["kind"], "sender": r.get("sender"), "created": r.get("created"),
            "acked": r.get("acked", False), "share": r.get("share")}


def _proof_json(proof) -> dict:
    """A verified proof for JS: what it states, who signed it, and its bytes (a Uint8Array)."""
    return {"cid": cid_str(proof.cid), "statement": proof.statement, "root": cid_str(proof.root),
            "signer": proof.signer_id, "time": proof.time, "recipient": proof.recipient,
            "capsule": cid_str(proof.capsule) if proof.capsule else None, "expires": proof.expires,
            "data": js_bytes(proof.data)}


def _public_json(public: PublicIdentity) -> dict:
    return public.to_json()


def _platform_name() -> str:
    """A device name from the platform, e.g. "Chrome on Linux"; "This browser" when the
    browser does not say. A default: the app's sign-up form may offer the person their own."""
    agent = str(getattr(js.navigator, "userAgent", "") or "")
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                          ("Chrome/", "Chrome"), ("Safari/", "Safari")) if key in agent), None)
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                         ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                         ("Linux", "Linux")) if key in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or "This browser"


async def start(gateway: str, background=None, namespace: str = DEFAULT_NAMESPACE):
    """The runtime for this page (or worker) of ``namespace`` (namespace.py: what it names in
    this origin); raises UnsupportedError without X25519/Ed25519."""
    use_namespace(arg.text(namespace, "namespace"))
    backend = await WebCryptoBackend.create()
    db, reason = await open_store()
    return Runtime(arg.text(gateway, "gateway"), backend, IdentityStore(db, backend), reason, arg.py(background))
