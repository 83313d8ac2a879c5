"""``MeshKit``: the Python runtime's one documented entry point (docs/PYTHON.md).

The same product model and names as the browser package (sdk/index.d.ts), in snake_case,
with ``from_=`` and ``as_=`` where JS takes ``{from}`` and ``{as}``. Identities, contacts
and accounts live in a home laid out as the CLI's (stores/filestore.py), so the CLI and a
Python program share them. Every call goes through the gateway protocol (clients/): to a
real gateway (``connect``) or to the gateway app running in this process (``local``).
"""

import asyncio
import contextlib
import functools
import logging
import os
import time
from typing import Callable, Iterable

from ..clients import accounts
from ..clients.accounts import seal_recipients
from ..core.cid import cid_str, parse_cid
from ..core.account import kit_state
from ..core.errors import InvalidArgumentError, MeshKitError, UnknownIdentityError
from ..core.recipients import Reach, check_suite, resolve_reach
from . import types
from .inputs import Input, sealing_source

DEFAULT_HOME = "~/.meshkit"
log = logging.getLogger("meshkit.kit")


class MeshKit:
    """Open with ``MeshKit.local(path)`` or ``MeshKit.connect(url, home=...)``, use as
    ``async with``; every method is a coroutine. Not safe to share between event loops."""

    def __init__(self, gateway: str | None, home: str, *, local=None, link_base: str | None = None):
        from ..crypto.nacl_backend import NaclBackend
        from ..stores.filestore import FileStore
        self.gateway = gateway.rstrip("/") if gateway else None
        # where a send link opens: a page that serves the app (default: the gateway's origin)
        self.link_base = (link_base or self.gateway or "").rstrip("/") or None
        self.home = os.path.abspath(os.path.expanduser(home))
        self._store = FileStore(self.home, NaclBackend())
        self._local = local
        self._started = False
        self._start_lock = asyncio.Lock()
        self._clients: dict = {}
        self._closing: list = []  # what close() also closes (CAR files being read)
        self._listeners: list = []
        # who a device is (its person, by the account chain verified here; kept in this home)
        self._people = accounts.People(self._store, on_new=lambda kept: self._emit({
            "type": "resolved", "id": kept.record.id, "name": kept.record.name,
            "fingerprint": kept.record.fingerprint, "account": True}))
        self.identity = Identities(self)
        self.contacts = Contacts(self)
        self.devices = Devices(self)
        self.send_links = SendLinks(self)
        self.proofs = Proofs(self)
        self.messages = Messages(self)
        self.records = Records(self)

    # --- opening and closing -----------------------------------------------------------------
    @classmethod
    def local(cls, path) -> "MeshKit":
        """Everything under ``path`` (made 0700): identities in ``path/home``, encrypted
        blocks and the gateway's records in ``path/gateway``. No server, no network. One
        program at a time uses a ``path`` (another gets in_use)."""
        from .local import HOME, LOCAL_URL, LocalGateway
        path = os.fspath(path)
        return cls(LOCAL_URL, os.path.join(path, HOME), local=LocalGateway(path))

    @classmethod
    def connect(cls, gateway_url: str, *, home=None, link_base: str | None = None) -> "MeshKit":
        """Through the gateway at ``gateway_url`` (``meshkit serve``), with the identities in
        ``home`` (default: $MESHKIT_HOME, else ~/.meshkit: the CLI's). ``link_base``: the page
        send links open at (your app's address, which serves MeshKit's send-link page;
        default the gateway's, right when it serves the app: ``meshkit serve --site``)."""
        from ..core.auth import canonical_url
        canonical_url(gateway_url)  # InvalidArgumentError, without echoing it (it may hold a password)
        if link_base is not None:
            canonical_url(link_base)
        home = os.fspath(home) if home is not None else os.environ.get("MESHKIT_HOME") or DEFAULT_HOME
        return cls(gateway_url, home, link_base=link_base)

    @classmethod
    def offline(cls, home=None) -> "MeshKit":
        """No gateway: identities and contacts in ``home``, and envelopes in CAR files
        (``seal(..., car=PATH)``, ``open(car=PATH)``). Calls that need a gateway raise
        invalid_argument."""
        home = os.fspath(home) if home is not None else os.environ.get("MESHKIT_HOME") or DEFAULT_HOME
        return cls(None, home)

    @property
    def safe_gateway(self) -> str | None:
        """The gateway's URL as messages may show it (no credentials, no query values)."""
        from ..core.urls import redact_url
        return redact_url(self.gateway) if self.gateway else None

    async def start(self) -> "MeshKit":
        """Called by ``async with`` and by the first call; idempotent."""
        async with self._start_lock:
            if not self._started:
                if self._local is not None:
                    await self._local.start()
                self._started = True
        return self

    async def close(self) -> None:
        """Close every session (and, for ``local``, the in-process gateway); idempotent."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        while self._closing:
            self._closing.pop()()
        if self._local is not None and self._started:
            await self._local.close()
        self._started = False

    async def __aenter__(self) -> "MeshKit":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- sessions --------------------------------------------------------------------------------
    def _new_client(self, identity=None):
        from ..clients.gateway import GatewayClient
        from ..clients.transport import HttpxTransport
        if self.gateway is None:
            raise InvalidArgumentError("this MeshKit has no gateway (MeshKit.offline): use MeshKit.connect(url) "
                                       "or MeshKit.local(path)")
        # MeshKit.local: httpx calls the gateway app in this process (kit/local.py), not the network
        client = GatewayClient(self.gateway, self._store.backend, identity,
                               transport=HttpxTransport(self._local.transport) if self._local else None)
        if self._local is not None:
            client.streamed_reads = False  # the ASGI transport holds a whole reply: a request per block
        return client

    async def _client(self, name: str):
        """The session of my identity ``name`` (its record published once per MeshKit)."""
        await self.start()
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("name the identity to act as (from_= / as_=)")
        client = self._clients.get(name)
        if client is None:
            client = self._new_client(await self._store.load(name))
            client.library_keeper = self._store  # what was verified of the library outlives the process
            from ..clients.app_data import DirectoryKeeper
            client.app_data_keeper = DirectoryKeeper(os.path.join(self.home, "app-state"))
            await client.publish()
            self._clients[name] = client
        return client

    async def _anonymous(self):
        await self.start()
        return self._new_client()

    async def _account(self, name: str):
        """``name``'s account, refreshed through its chain (never older), or None."""
        known = self._store.load_account(name)
        if known is None:
            return None
        record = await (await self._client(name)).fetch_account(known.id, known=known)
        self._store.save_account(name, record)
        return record

    async def _reach(self, client, who: str) -> Reach:
        """Core's one rule (core.recipients): an id means exactly that id; a name only a local
        name; a person with an account is reached through its current devices and recovery key
        (the account kept in this home, never rolled back)."""
        store = self._store

        async def directory(ident: str):
            # never classic to an id this home saw with an X-Wing key (identity_mismatch)
            public = check_suite(await client.resolve(ident), store.seen_pq_key_of(ident))
            store.remember_pq_key(public)
            self._emit({"type": "resolved", "id": public.id, "name": public.name, "fingerprint": public.fingerprint,
                        "account": False})
            return public
        if not isinstance(who, str) or not who:
            raise InvalidArgumentError("a recipient is a name or an id (a string)")
        return await resolve_reach(who, own=await store.identities(), contacts=await store.contacts(),
                                   directory=directory, account=lambda ident: self._people.reaching(client, ident))

    async def _senders(self, client, idents, prefix: str = "sender") -> dict:
        """{id: who it is (accounts.person_fields, snake_case keys)}: the person through the
        verified account chain, else my identity's or contact's name; ``client`` None: offline."""
        people = await self._people.people(client, idents) if client is not None else {}
        local = {p.id: p for p in await self._store.contacts() + await self._store.identities()}
        return {ident: {types._snake(k): v for k, v in
                        accounts.person_fields(people.get(ident), prefix, local.get(ident)).items()}
                for ident in idents if isinstance(ident, str)}

    def on_change(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        """Call ``listener(event)`` for what happens along the way; returns the function that
        stops it. Events: {"type": "resolved", "id", "name", "fingerprint", "account"}: a
        recipient given by id was looked up at the gateway for the first time (its record from
        the directory, or its account through the account's chain; show it: whose keys they are)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: dict) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - a listener's bug must not fail the call it watches
                log.warning("an on_change listener failed (%s)", type(exc).__name__)

    async def _remember_contact(self, public, account: str | None = None) -> None:
        """A new contact goes into the library of each account this home is a device of, so
        the account's other devices (and a recovery) know them too (as the browser does)."""
        for name in self._store.identity_names():
            try:
                record = await self._account(name)
                if record is not None:
                    await accounts.remember_contact(await self._client(name), record, public, account)
            except MeshKitError as exc:  # kept here in any case; the library gets it another time
                log.warning("contact %s kept here, not yet in %s's library (%s)", public.id, name, exc.code)

    async def _identity_of(self, name: str) -> types.Identity:
        public = (await self._store.load(name)).public
        return _identity(public, self._store.load_account(name))

    # --- sealing and opening ---------------------------------------------------------------------
    async def seal(self, data: Input, *, from_: str, to: str | Iterable[str] = (), name: str | None = None,
                   type: str | None = None, on_progress: Callable[[int, int | None], None] | None = None,
                   pin: bool = True, car=None, include_sender: bool = True,
                   segment_size: int | None = None) -> types.Sealed:
        """Encrypt ``data`` here and store the envelope through the gateway. ``data``: bytes, a
        str (as UTF-8 text), a path (``pathlib.Path`` or ``os.PathLike``), a binary file object,
        or an (async) iterable of bytes. Sealed to ``from_``'s account (each current device
        and its recovery key) and to everyone in ``to`` (names or ids; a person with an account
        on all their devices). A file bigger than the free quota is refused before anything
        is sent. ``car=PATH``: write the envelope to a new CARv1 file instead (no gateway;
        recipients are my identities and contacts, by name or id). ``on_progress(done, total)``:
        plaintext bytes read (``total`` None for a stream of unknown size)."""
        wanted = [to] if isinstance(to, str) else list(to)
        options = {"include_sender": include_sender, **({"segment_size": segment_size} if segment_size else {})}
        source, size, described = sealing_source(data, name=name, media_type=type, on_progress=on_progress)
        if car is not None:
            return await self._seal_to_car(source, from_, wanted, described, os.fspath(car), options)
        client = await self._client(from_)
        chosen = [await self._reach(client, who) for who in wanted]
        account = await self._account(from_)
        recipients = seal_recipients(chosen, account)
        if size is not None:  # too big for either quota is said now, before encrypting, not after uploading
            await client.check_room(size, len(recipients) + 1, pin=pin, segment_size=segment_size)
        root = await client.seal_upload(source, recipients=recipients, pin=pin, metadata=described, **options)
        in_library = None if account is None else await accounts.remember_sealed(
            client, account, cid_str(root), described["name"], source.read)
        return types.Sealed(cid_str(root), described["name"], source.read, tuple(r.id for r in chosen),
                            len(recipients) + int(include_sender), in_library)

    async def _seal_to_car(self, source, from_: str, wanted: list, described: dict, path: str,
                           options: dict) -> types.Sealed:
        from ..core.envelope import seal
        from ..stores.carfile import CarWriter
        store = self._store
        sender = await store.load(from_)
        chosen = [await resolve_reach(who, own=await store.identities(), contacts=await store.contacts())
                  for who in wanted]
        recipients = seal_recipients(chosen, None)
        root = None
        with CarWriter(path) as writer:
            async for block in seal(store.backend, source, sender=sender, recipients=recipients,
                                    now=int(time.time()), metadata=described, **options):
                await asyncio.to_thread(writer.put, block.cid, block.data)
                root = block.cid
            writer.commit(root)
        return types.Sealed(cid_str(root), described["name"], source.read, tuple(r.id for r in chosen),
                            len(recipients) + int(options["include_sender"]), None)

    async def open(self, root: str | None = None, *, as_: str, range: tuple[int, int] | None = None,
                   car=None) -> types.Opened:
        """Open an envelope as my identity ``as_``: its header and every block are verified
        (each block's CID before decrypting). ``range=(start, end)``: bytes [start, end) only,
        from their segments only. ``car=PATH``: from a CAR file (``root``: its single root
        unless given)."""
        if car is not None:
            opened = await self._open_car(os.fspath(car), root, as_)
        else:
            client = await self._client(as_)
            opened = await client.open(_cid(root))
        start, end = _range(range, opened.header.size)
        described = await self._described(opened, opened.header, client=None if car is not None else client)
        return types.Opened(**described.__dict__, _plaintext=functools.partial(opened.plaintext, start, end))

    async def _open_car(self, path: str, root: str | None, as_: str):
        from ..core.envelope import open_envelope
        from ..stores.carfile import CarReader
        identity = await self._store.load(as_)
        reader = CarReader(path)
        self._closing.append(reader.close)  # its blocks are read as the plaintext is
        if root is None and len(reader.roots) != 1:
            raise InvalidArgumentError("the CAR does not name exactly one root: give the root")
        return await open_envelope(self._store.backend, _cid(root) if root is not None else reader.roots[0],
                                   reader.get_block, identity)

    async def describe(self, root: str, *, as_: str) -> types.Described:
        """What an envelope holds (name, type, size, sender) without reading its segments, and
        never at the cost of one of a limited share's opens."""
        client = await self._client(as_)
        description = await client.describe(_cid(root))
        return await self._described(description, description.header, description.opens_left, client=client)

    async def _described(self, opened, header, opens_left=None, *, client=None) -> types.Described:
        """``client``: where the sender's account is looked up (None: offline, local names only)."""
        meta = opened.metadata
        sender = (await self._senders(client, [header.sender_id]))[header.sender_id]
        return types.Described(header.root_str, meta.name if meta else "", meta.type if meta else
                               "application/octet-stream", header.size, meta.mtime if meta else None,
                               header.sender_id, sender["sender_name"], opens_left, sender["sender_account"],
                               sender["sender_fingerprint"], sender["sender_former_device"],
                               getattr(opened, "expires", None))

    async def envelopes(self, owner: str) -> list[types.EnvelopeEntry]:
        """The envelopes in ``owner``'s account library: sealed by any of its devices."""
        account = await self._account(owner)
        if account is None:
            return []
        library, _ = await accounts.load_library(await self._client(owner), account)
        return [types.EnvelopeEntry(root, str(value.get("name", "")), int(value.get("size") or 0), value.get("created"))
                for root, value in sorted(library.items("envelope").items())]

    # --- sharing -----------------------------------------------------------------------------------
    async def share(self, root: str, *, from_: str, to: str, expires=None, policy: str | None = None) -> types.Share:
        """Give ``to`` access to an envelope I can open (a capsule per device of their account,
        and its recovery key). ``expires``: "7d", "12h", an ISO 8601 time or Unix seconds."""
        client = await self._client(from_)
        reach = await self._reach(client, to)
        capsules = await accounts.share_with(client, _cid(root), reach, expires=await client.expiry(expires),
                                             policy=policy)
        return types.Share(root, reach.id, reach.name, reach.account, tuple(cid_str(c.cid) for c in capsules),
                           capsules[0].expires)

    async def revoke(self, root: str, *, from_: str, to: str) -> list[str]:
        """Revoke every share of ``root`` I made to ``to`` (all their devices, removed ones
        too): future opens fail. Returns the capsules revoked."""
        client = await self._client(from_)
        return await accounts.revoke_from(client, _cid(root), await self._reach(client, to))

    # --- storage: quotas, unpinning, deleting ------------------------------------------------------
    async def usage(self, *, as_: str) -> types.Usage:
        """What ``as_`` stores at the gateway against its storage and pin quotas (a usage
        meter; ``core.units.human_bytes`` says a size in MB/GB)."""
        from ..clients.storage import usage
        return types.Usage(**await usage(await self._client(as_)))

    async def unpin(self, root: str, *, as_: str) -> str:
        """Remove ``as_``'s pin of ``root`` (missing_metadata when it has none): it stops
        counting against the pin quota now, and its blocks against the storage quota after
        the gateway's grace (``usage().gc_grace``), when they are collected unless someone
        else keeps them. Until then it still opens; ``delete`` ends it all at once."""
        binary = _cid(root)
        await (await self._client(as_)).unpin(binary)
        return cid_str(binary)

    async def delete(self, root: str, *, as_: str) -> types.Deleted:
        """Delete an envelope: every share and send link of it ``as_``'s account made (on any
        of its devices) is revoked (what was opened stays opened), ``as_``'s pin of it
        removed, it leaves the account's library (on every device), and what its blocks cost
        ``as_``'s storage quota is given back at once (the gateway collects blocks nobody else
        keeps). A pin another device of the account made stays until that device deletes it too."""
        from ..clients.storage import delete_envelope
        client = await self._client(as_)
        done = await delete_envelope(client, await self._account(as_), _cid(root))
        return types.Deleted(done["root"], done["unpinned"], done["in_library"], tuple(done["revoked"]),
                             done["released"])

    async def access(self, root: str, *, as_: str) -> types.Access:
        """Who can open it: the header's recipients (for good) and the shares I made (a send
        link's marked ``link``: it is no person)."""
        from ..core.envelope import read_header
        client = await self._client(as_)
        binary = _cid(root)
        header = await read_header(client.backend, binary, client.get_block)
        shares = await client.shares_made(binary)
        known = {p.id: p.name for p in await self._store.contacts() + await self._store.identities()}
        links = await accounts.link_capsules(client, await self._account(as_))
        people = await self._people.people(client, [e.recipient for e in header.recipients]
                                           + [row["recipient"] for row in shares])

        def person(ident: str) -> dict:
            return {types._snake(k): v for k, v in accounts.person_fields(people.get(ident), "").items()}
        return types.Access(
            tuple(types.AccessEntry(e.recipient, known.get(e.recipient), **person(e.recipient),
                                    suite=types.suite_of(e.kem))
                  for e in header.recipients),
            tuple(types.ShareState(row["cid"], row["recipient"], known.get(row["recipient"]), row["expires"],
                                   row["state"], row["cid"] in links, **person(row["recipient"])) for row in shares))

    async def rewrap(self, root: str, *, as_: str) -> types.Rewrapped:
        """Wrap an envelope's content key again to each recipient's CURRENT keys, X-Wing for
        those whose verified record lists an X-Wing key (FORMAT.md 3.8), without re-encrypting
        its segments: a new header (so a new root) with the same segments, signed by ``as_``
        (who must be in the header), pinned and put in the account's library in place of the
        old root. The old root stays as it was (and pinned) until you ``delete`` or ``unpin``
        it; shares of it keep opening it. A recipient not found now (a removed device) keeps
        its entry as it was; a record that drops a key seen before is identity_mismatch. The
        content key stays the same, so whoever kept the old header (the provider) can still open
        the file classically: against that, seal it again."""
        from ..core.envelope import read_header
        from ..core.rewrap import rewrap_envelope
        client = await self._client(as_)
        old = _cid(root)
        header = await read_header(client.backend, old, client.get_block)
        current = {}
        for entry in header.recipients:  # at most MAX_RECIPIENTS (read_header's bound)
            public = await self._current_record(client, entry.recipient)
            if public is not None:
                current[entry.recipient] = public
        block, entries = await rewrap_envelope(client.backend, old, client.get_block, client.identity, current)
        await client.put_block(block.cid, block.data)
        await client.finish_upload(block.cid)
        new = cid_str(block.cid)
        account = await self._account(as_)
        if account is not None:
            library, _ = await accounts.load_library(client, account)
            entry = library.items("envelope").get(cid_str(old)) or {}
            if await accounts.remember_sealed(client, account, new, str(entry.get("name", "")),
                                              int(entry.get("size") or header.size)):
                await accounts.forget_envelope(client, account, cid_str(old))
        return types.Rewrapped(new, cid_str(old), tuple(types.RecipientSuite(e.recipient, types.suite_of(e.kem))
                                                       for e in entries))

    async def _current_record(self, client, ident: str):
        """The verified record a re-wrap wraps to for header recipient ``ident`` now: an
        account's current recovery key or device, one of mine, a contact, the directory's; None
        when there is none (removed, unknown)."""
        from ..core.account import recovery_recipient_id
        from ..core.errors import MissingMetadataError
        try:
            if ident.endswith(".recovery"):
                kept = await self._people.reaching(client, ident[:-len(".recovery")])
                if kept is not None and recovery_recipient_id(kept.record.id) == ident:
                    return kept.record.recovery_identity()
                return None
            reach = await self._reach(client, ident)
        except (UnknownIdentityError, MissingMetadataError, InvalidArgumentError):
            return None
        return next((p for p in reach.identities if p.id == ident), None)

    async def inbox(self, as_: str, *, all: bool = False) -> list[types.InboxMessage]:
        """Shares and notices sent to ``as_``, each sender proven (a share by its signed
        proof); kept in the account's library for my other devices."""
        client = await self._client(as_)
        rows = await client.inbox(include_acked=all)
        account = await self._account(as_)
        if account is not None and any(row.get("share") for row in rows):
            await accounts.remember_shares(client, account, rows)
        senders = await self._senders(client, {row.get("sender") for row in rows})
        out = []
        for row in rows:
            share = row.get("share") or {}
            sender = senders.get(row.get("sender")) or {}
            out.append(types.InboxMessage(str(row["id"]), row["kind"], row.get("sender"), sender.get("sender_name"),
                                          row.get("created"), row.get("size", 0), bool(row.get("acked")),
                                          share.get("root"), share.get("capsule"), share.get("expires"),
                                          share.get("policy"), sender.get("sender_account"),
                                          sender.get("sender_fingerprint"), bool(sender.get("sender_former_device"))))
        return out

    async def ack(self, as_: str, message_id: str) -> None:
        """Acknowledge an inbox message: the gateway deletes it (``inbox(all=True)`` still
        lists it for a while)."""
        await (await self._client(as_)).ack(str(message_id))

    async def library(self, as_: str) -> types.Library:
        """``as_``'s account library, the same on every device: envelopes, what was shared
        with the account (this device's inbox kept in it first), contacts (those another
        device added are kept in this home too, never over a local name)."""
        store = self._store
        client = await self._client(as_)
        record = await self._account(as_)
        if record is None:
            raise UnknownIdentityError(f"{as_!r} is not a device of an account")
        library, _, _ = await accounts.remember_shares(client, record, await client.inbox(include_acked=True))
        local = await store.contacts()
        contacts = await accounts.adopt_contacts(
            client, library, self._people, local=local, taken={c.name for c in local} | set(store.identity_names()),
            add=lambda public: store.add_contact(public.to_json()))
        envelopes = tuple(types.EnvelopeEntry(root, str(v.get("name", "")), int(v.get("size") or 0), v.get("created"))
                          for root, v in library.items("envelope").items())
        items = library.items("share")
        sharers = await self._senders(client, {str(v.get("sharer", "")) for v in items.values()}, "sharer")
        shares = tuple(types.LibraryShare(str(v.get("root", "")), capsule, v.get("sharer"),
                                          **sharers.get(str(v.get("sharer", "")), {}), received=v.get("received"))
                       for capsule, v in items.items())
        return types.Library(envelopes, shares, tuple(_contact(p, store.known_account(p.id)) for p in contacts))


# --- the families (kit.identity, kit.contacts, ...) ----------------------------------------------

class _Family:
    def __init__(self, kit: MeshKit):
        self._kit = kit


class Identities(_Family):
    async def create(self, name: str, *, account: bool = True,
                     device_name: str | None = None) -> types.CreatedIdentity:
        """A new identity (this program's device keys, 0600 in the home: post-quantum, an
        X-Wing key beside the X25519 one, ``suite`` "x-wing"), published, and an account
        around it (with an X-Wing recovery key) and a recovery phrase: in this answer only,
        shown once. All or
        nothing: on any failure no identity is left behind. ``account=False``: a bare
        identity (no other devices, no recovery). ``name``: the identity's and the account's
        (the person's); ``device_name``: this device's name in the account (``devices.list``;
        default: this machine's host name)."""
        from ..core.identity import check_name
        kit = self._kit
        device_name = device_name or _host_name()
        check_name(device_name)
        if kit.gateway is None and account:
            raise InvalidArgumentError("an account needs a gateway (MeshKit.connect or MeshKit.local); offline, "
                                       "create(name, account=False)")
        await kit.start()
        identity = await kit._store.create(name, int(time.time()))
        if kit.gateway is None:  # offline: kept here, published by the first call through a gateway
            return types.CreatedIdentity(**_identity(identity.public, None).__dict__, published=False)
        phrase = record = None
        try:
            client = await kit._client(name)
            if account:
                phrase, record = await accounts.create_account(client, name, device_name=device_name)
                kit._store.save_account(name, record)
        except BaseException:
            kit._clients.pop(name, None)
            kit._store.remove(name)
            raise
        return types.CreatedIdentity(**_identity(identity.public, record).__dict__, published=True,
                                     recovery_phrase=phrase)

    async def list(self) -> list[types.Identity]:
        """My identities in this home, each with its account as last verified here (refreshed
        through its chain when there is a gateway, so ``recovery_kit`` is the account's: a
        kit confirmed on another device shows here; offline, the kept record)."""
        kit = self._kit
        if kit.gateway is not None:
            for name in kit._store.identity_names():
                try:
                    await kit._account(name)
                except MeshKitError as exc:
                    if not exc.retryable:  # unavailable, busy, rate_limited: as kept; never a rollback
                        raise
        return [await kit._identity_of(name) for name in kit._store.identity_names()]

    async def confirm_recovery_kit(self, name: str, phrase: str) -> types.Identity:
        """The person typed the recovery phrase back: once it is the account's current phrase,
        the kit is marked confirmed for every device of the account (``recovery_kit``).
        ``bad_phrase``, or ``phrase_replaced`` for a phrase replaced since; nothing changes."""
        kit = self._kit
        record = await Devices(kit)._record(name)
        record = await accounts.confirm_kit(await kit._client(name), record, phrase)
        kit._store.save_account(name, record)
        return await kit._identity_of(name)

    async def new_recovery_phrase(self, name: str) -> types.NewRecoveryPhrase:
        """Replace the recovery phrase of ``name``'s account (FORMAT.md 11.7): the new phrase is
        in this answer only; the old one recovers nothing any more (``phrase_replaced``), and
        the new kit starts not confirmed. What was sealed to the old recovery key in an
        envelope's header stays openable by the old phrase (headers never change)."""
        kit = self._kit
        record = await Devices(kit)._record(name)
        made = await accounts.new_recovery_phrase(await kit._client(name), record)
        kit._store.save_account(name, made.record)
        return types.NewRecoveryPhrase(**(await kit._identity_of(name)).__dict__, recovery_phrase=made.phrase,
                                       rewrapped=made.rewrapped, library_sealed=made.library)

    async def publish(self, name: str) -> types.Identity:
        """Put my identity's record in the gateway's directory (done by every call that acts
        as it; idempotent), so others can find it by id."""
        await self._kit._client(name)
        return await self._kit._identity_of(name)

    async def record(self, name: str) -> dict:
        """My identity's public record (self-signed JSON) to give to others; with ``account``."""
        kit = self._kit
        record = (await kit._store.load(name)).public.to_json()
        account = kit._store.load_account(name)
        if account is not None:
            record["account"] = account.id
        return record

    async def recover(self, name: str, phrase: str, *, device_name: str | None = None) -> types.RecoveredIdentity:
        """A new device ``name`` in the phrase's account, with everything in its library
        opening again. A mistyped phrase is refused (bad_phrase) before anything is made.
        ``device_name``: its name in the account (default: ``name``)."""
        from ..core.account import secret_from_phrase
        from ..core.identity import check_name
        kit = self._kit
        secret_from_phrase(phrase)
        if device_name is not None:
            check_name(device_name)
        await kit.start()
        await kit._store.create(name, int(time.time()))
        try:
            client = await kit._client(name)
            record, keys = await accounts.recover_account(client, phrase, device_name=device_name)
            kit._store.save_account(name, record)
            _, restored = await accounts.recover_library(client, record, keys)
            del keys
        except BaseException:
            kit._clients.pop(name, None)
            kit._store.remove(name)
            raise
        return types.RecoveredIdentity(**(await kit._identity_of(name)).__dict__, restored=restored)


class Contacts(_Family):
    async def add(self, record) -> types.Contact:
        """Someone's public record (a dict or its JSON text, as ``identity.record`` gives
        it) or their contact link from the app. A record naming an account is checked through
        the account's chain, so sharing with them reaches all their devices."""
        import json
        from ..core.contact_link import linked_account, record_from_link
        from ..core.identity import record_from_json
        kit = self._kit
        client = await kit._anonymous() if kit.gateway else None  # offline: kept without its account checked
        async with client or contextlib.nullcontext():
            if isinstance(record, str) and ("#contact=" in record or record.startswith("contact=")):
                account_id = linked_account(record)
                record = await record_from_link(record, client.resolve if client else None)
            else:
                if isinstance(record, (str, bytes)):
                    try:
                        record = json.loads(record)
                    except (ValueError, RecursionError):
                        raise InvalidArgumentError("a contact is a record (JSON) or a contact link") from None
                if not isinstance(record, dict):
                    raise InvalidArgumentError("a contact is a record (JSON) or a contact link")
                account_id = record.get("account") if isinstance(record.get("account"), str) else None
            public = await record_from_json(kit._store.backend, record)
            kept = None
            if account_id and client is not None:
                kept = await kit._people.vouched(client, public, account_id)
            elif client is not None:  # a record naming no account: the gateway's hint, checked
                try:
                    kept = await kit._people.reaching(client, public.id)
                except MeshKitError as exc:  # a hint that does not check: the contact, without it
                    log.info("contact %s: its account does not check (%s)", public.id, exc.code)
        public = await kit._store.add_contact(record)
        if kit.gateway is not None:
            await kit._remember_contact(public, kept.record.id if kept else None)
        return _contact(public, kept)

    async def list(self) -> list[types.Contact]:
        """The contacts kept in this home (each one's record verifies), each with the account
        it is a device of as verified here (contacts another device added: when they arrived
        through the library, ``library``)."""
        store = self._kit._store
        return [_contact(p, store.known_account(p.id)) for p in await store.contacts()]


class Devices(_Family):
    async def _record(self, name: str):
        record = await self._kit._account(name)
        if record is None:
            raise UnknownIdentityError(f"{name!r} is not a device of an account (identity.create with an "
                                       "account, identity.recover or devices.wait_for_link)")
        return record

    async def list(self, name: str, *, include_removed: bool = False) -> list[types.Device]:
        """The devices of ``name``'s account, each with who added it."""
        record = await self._record(name)
        me = (await self._kit._store.load(name)).id
        devices = [types.Device(d.id, d.device.name, d.id == me, d.added, d.signer, record.added_by(d))
                   for d in record.devices]
        removed = [types.Device(i, "", False, None, None, None, True) for i in record.removed] if include_removed else []
        return devices + removed

    async def remove(self, name: str, device_ids: str | Iterable[str], *, phrase: str | None = None) -> int:
        """Remove devices from ``name``'s account: they open nothing new, the gateway refuses
        them. ``phrase``: sign with the recovery phrase (when no device that may remove
        others is left). Returns the new account version."""
        from ..core.account import derive_recovery_keys, secret_from_phrase
        kit = self._kit
        ids = [device_ids] if isinstance(device_ids, str) else [str(i) for i in device_ids]
        record = await self._record(name)
        keys = None
        if phrase is not None:
            keys = await derive_recovery_keys(kit._store.backend, secret_from_phrase(phrase))
        record = await accounts.remove_devices(await kit._client(name), record, ids, keys=keys)
        kit._store.save_account(name, record)
        return record.version

    async def request_link(self, device_name: str) -> types.LinkRequest:
        """On a new device: make identity ``device_name`` and a link for an existing device
        to approve (``approve``), with the short code that may be typed there instead; then
        ``wait_for_link`` (with the link)."""
        kit = self._kit
        await kit.start()
        try:
            await kit._store.load(device_name)
        except UnknownIdentityError:
            await kit._store.create(device_name, int(time.time()))
        made = await accounts.request_link(await kit._client(device_name))
        return types.LinkRequest(made.link, made.code)

    async def approve(self, name: str, link_or_code: str, *, on_code: Callable[[str], None],
                      timeout: float | None = None) -> types.Device:
        """On a device of the account: add the linked device, given its link or its short
        code. ``on_code(code)`` shows the code the person types on the new device."""
        kit = self._kit
        record = await self._record(name)
        client = await kit._client(name)
        link = await accounts.resolve_link(client, link_or_code)
        record = await accounts.approve_link(client, record, link, show_code=on_code,
                                             timeout=accounts.LINK_WAIT if timeout is None else timeout)
        kit._store.save_account(name, record)
        device = record.device(accounts.parse_link(link)[0])
        return types.Device(device.id, device.device.name, False, device.added, device.signer, record.added_by(device))

    async def wait_for_link(self, link: str, *, ask_code, timeout: float | None = None) -> types.Identity:
        """On the new device: wait for the approval; ``ask_code(offers)`` returns the code the
        approving device shows (offers: which account asks, with its fingerprint)."""
        kit = self._kit
        device_id, _ = accounts.parse_link(link)
        mine = [n for n in kit._store.identity_names() if (await kit._store.load(n)).id == device_id]
        if not mine:
            raise accounts.LinkError("this link was not made in this home")
        record = await accounts.wait_for_link(await kit._client(mine[0]), link, ask_code=ask_code,
                                              timeout=accounts.LINK_WAIT if timeout is None else timeout)
        kit._store.save_account(mine[0], record)
        return await kit._identity_of(mine[0])


class SendLinks(_Family):
    async def create(self, root: str, *, from_: str, expires=None, opens: int | None = None) -> types.SendLink:
        """A link that opens ``root`` for whoever has it (its secret in the #fragment: send it
        only to them), at ``link_base`` (MeshKit.connect). ``opens``: at most that many times
        (1..1000; None: no limit). The person it is for opens it in the app's page, with
        ``meshkit receive``, or with ``send_links.open`` on any kit (no identity needed). Kept
        in the account's library, so ``list`` shows it on every device."""
        from ..clients.send_links import create_send_link
        from ..core.send_link import check_opens
        opens = check_opens(opens)
        client = await self._kit._client(from_)
        when = await client.expiry(expires)
        fragment, capsule = await create_send_link(client, _cid(root), expires=when, opens=opens)
        account = await self._kit._account(from_)
        if account is not None:
            await accounts.remember_link(client, account, cid_str(_cid(root)), capsule, opens=opens, expires=when,
                                         created=await client.gateway_now())
        return types.SendLink(f"{self._kit.link_base}/#{fragment}", capsule, root, when, opens)

    async def list(self, root: str, *, as_: str) -> list[types.SendLinkState]:
        """The send links of ``root`` that ``as_``'s account made (on any of its devices),
        newest first, each with its opens used and its state: "live", "used_up", "expired"
        or "revoked". A bare identity (no account: no library to keep them in) has none listed."""
        from ..clients.send_links import list_send_links
        kit = self._kit
        client = await kit._client(as_)
        account = await kit._account(as_)
        if account is None:
            return []
        return [types.SendLinkState(**link) for link in await list_send_links(client, account, _cid(root))]

    async def describe(self, link: str) -> types.Described:
        """What a send link opens (name, type, size, sender, opens left); spends no open."""
        from ..clients.send_links import describe_send_link
        kit = self._kit
        await kit.start()
        found = await describe_send_link(self._client_class(), kit.gateway, kit._store.backend, link)
        async with await kit._anonymous() as lookups:  # the sender's account, checked from the gateway's records
            return await kit._described(found, found.header, found.opens_left, client=lookups)

    async def open(self, link: str) -> types.Opened:
        """Open what a send link points at, spending one of its opens; no identity of this
        home is used (any kit will do). Read it before the kit closes: its session ends then."""
        from ..clients.send_links import open_send_link
        kit = self._kit
        await kit.start()
        opened, client = await open_send_link(self._client_class(), kit.gateway, kit._store.backend, link)
        kit._clients[f"\0link:{id(client)}"] = client  # closed with the kit
        async with await kit._anonymous() as lookups:
            described = await kit._described(opened, opened.header, client=lookups)
        return types.Opened(**described.__dict__, _plaintext=opened.plaintext)

    async def revoke(self, capsule: str, *, from_: str) -> str:
        """Stop a send link: it opens no more."""
        client = await self._kit._client(from_)
        capsule = cid_str(_cid(capsule))
        await client.request("DELETE", f"/v1/capsules/{capsule}", ok=(204,))
        return capsule

    def _client_class(self):
        kit = self._kit

        def make(base_url, backend, identity=None):
            client = kit._new_client(identity)
            return client
        return make


class Proofs(_Family):
    async def list(self, root: str, *, as_: str) -> list[types.Proof]:
        """The signed proofs the gateway holds for ``root``, each verified here."""
        client = await self._kit._client(as_)
        return [_proof(p) for p in await client.proofs(_cid(root))]

    async def verify(self, data: bytes) -> types.Proof:
        """A proof's bytes from anywhere, checked offline (shape, signer, signature)."""
        from ..core.proof import verify_proof
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError("a proof is bytes")
        return _proof(await verify_proof(self._kit._store.backend, bytes(data)))


class Messages(_Family):
    async def send(self, to: str, data: bytes | str, *, from_: str, kind: str | None = None) -> types.SentMessage:
        """Seal a small message (<= 48 KiB) to ``to`` (all their devices) and post it to each
        mailbox. ``kind``: "app-<name>" for your app's own messages."""
        from ..clients import app_data
        kit = self._kit
        client = await kit._client(from_)
        return types.from_fields(types.SentMessage, await app_data.send_message(
            client, await kit._reach(client, to), data, kind=kind))

    async def list(self, as_: str, *, kind=None, all: bool = False, limit: int | None = None) -> list[types.Message]:
        """App messages for ``as_`` (newest ``limit``), each verified; ``kind``: one or several
        "app-<name>"; ``all``: acknowledged ones too. ``data`` is given by ``read``."""
        from ..clients import app_data
        client = await self._kit._client(as_)
        rows = await app_data.list_messages(client, kind=kind, include_acked=all,
                                            limit=app_data.LIST_DEFAULT if limit is None else limit)
        owners = await self._sender_accounts(client, {row["sender"] for row in rows})
        return [types.from_fields(types.Message, {**row, "senderAccount": owners.get(row["sender"])}) for row in rows]

    async def _sender_accounts(self, client, senders: set) -> dict:
        """{sender: the account it is a device of, verified through its chain and kept in this
        home (never rolled back), or None} (the browser's senderAccount; accounts.People)."""
        people = await self._kit._people.people(client, senders)
        return {sender: person.account if person else None for sender, person in people.items()}

    async def read(self, as_: str, message_id: str) -> types.Message:
        """One message, verified now, with its ``data`` (and ``text`` if sent as text)."""
        from ..clients import app_data
        client = await self._kit._client(as_)
        message = await app_data.read_message(client, str(message_id))
        owners = await self._sender_accounts(client, {message["sender"]})
        return types.from_fields(types.Message, {**message, "senderAccount": owners[message["sender"]]})

    async def ack(self, as_: str, message_id: str) -> None:
        """Acknowledge a message: deleted at the gateway, and never shown again here."""
        from ..clients import app_data
        await app_data.ack_message(await self._kit._client(as_), str(message_id))


class Records(_Family):
    async def get(self, as_: str, name: str) -> types.Record | None:
        """App record ``name`` of ``as_``'s account (or identity), verified, never older than
        one accepted here before."""
        from ..clients import app_data
        kit = self._kit
        client = await kit._client(as_)
        found = await app_data.get_record(client, await kit._account(as_), name, refresh=False)
        return None if found is None else types.from_fields(types.Record, found)

    async def put(self, as_: str, name: str, data: bytes | str, *,
                  expected_version: int | None = None) -> types.Record:
        """Write the next version (compare-and-swap on ``expected_version``: conflict when
        another device wrote first)."""
        from ..clients import app_data
        kit = self._kit
        client = await kit._client(as_)
        return types.from_fields(types.Record, await app_data.put_record(
            client, await kit._account(as_), name, data, expected_version=expected_version, refresh=False))


# --- conversions ------------------------------------------------------------------------------------

def _cid(root) -> bytes:
    if not isinstance(root, str):
        raise InvalidArgumentError("a root is a CID string (bafy...)")
    return parse_cid(root)


def _range(value, size: int) -> tuple[int, int]:
    if value is None:
        return 0, size
    try:
        start, end = value
    except (TypeError, ValueError):
        raise InvalidArgumentError("range is (start, end): bytes [start, end)") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not 0 <= start <= end <= size:
        raise InvalidArgumentError(f"range ({start!r}, {end!r}) is not inside the file's {size} bytes")
    return start, end


def _identity(public, record) -> types.Identity:
    return types.Identity(public.name, public.id, public.fingerprint, record.id if record else None,
                          record.fingerprint if record else None, record.version if record else None,
                          kit_state(record), types.suite_of(public.kem))


def _contact(public, kept) -> types.Contact:
    return types.Contact(public.name, public.id, kept.record.fingerprint if kept else public.fingerprint,
                         kept.record.id if kept else None, kept.record.fingerprint if kept else None,
                         kept.record.name if kept else None)


def _host_name() -> str:
    """This machine's name, for a device in an account (identity create's default)."""
    import socket
    from ..core.identity import check_name
    name = "".join(c for c in socket.gethostname().split(".")[0] if c.isprintable() and c not in "/\\")[:64]
    try:
        check_name(name)
    except InvalidArgumentError:
        return "This computer"
    return name


def _proof(proof) -> types.Proof:
    return types.Proof(cid_str(proof.cid), proof.statement, cid_str(proof.root), proof.signer_id, proof.time,
                       proof.recipient, cid_str(proof.capsule) if proof.capsule else None, proof.expires, proof.data)

