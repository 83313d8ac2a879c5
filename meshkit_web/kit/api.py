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
from ..core.errors import InvalidArgumentError, MeshKitError, UnknownIdentityError
from ..core.recipients import Reach, resolve_reach
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

        async def account(ident: str):
            known = store.known_account(ident)
            kept = await accounts.account_reaching(client, ident, known)
            if kept is not None:
                store.save_known_account(kept)
                if known is None:  # first seen: from the gateway, verified through its chain
                    self._emit({"type": "resolved", "id": kept.record.id, "name": kept.record.name,
                                "fingerprint": kept.record.fingerprint, "account": True})
            return kept

        async def directory(ident: str):
            public = await client.resolve(ident)
            self._emit({"type": "resolved", "id": public.id, "name": public.name, "fingerprint": public.fingerprint,
                        "account": False})
            return public
        if not isinstance(who, str) or not who:
            raise InvalidArgumentError("a recipient is a name or an id (a string)")
        return await resolve_reach(who, own=await store.identities(), contacts=await store.contacts(),
                                   directory=directory, account=account)

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

    async def _remember_contact(self, public) -> None:
        """A new contact goes into the library of each account this home is a device of, so
        the account's other devices (and a recovery) know them too (as the browser does)."""
        for name in self._store.identity_names():
            try:
                record = await self._account(name)
                if record is not None:
                    await accounts.remember_contact(await self._client(name), record, public)
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
            opened = await (await self._client(as_)).open(_cid(root))
        start, end = _range(range, opened.header.size)
        return types.Opened(**(await self._described(opened, opened.header)).__dict__,
                            _plaintext=functools.partial(opened.plaintext, start, end))

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
        return await self._described(description, description.header, description.opens_left)

    async def _described(self, opened, header, opens_left=None) -> types.Described:
        meta = opened.metadata
        sender = await self._store.known(header.sender_id)
        return types.Described(header.root_str, meta.name if meta else "", meta.type if meta else
                               "application/octet-stream", header.size, meta.mtime if meta else None,
                               header.sender_id, sender.name if sender else None, opens_left)

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
        room = await (await self._client(as_)).usage()
        return types.Usage(int(room["stored"]), int(room["storage_quota"]), int(room.get("pinned") or 0),
                           int(room.get("pin_quota") or 0), room.get("gc_grace"))

    async def unpin(self, root: str, *, as_: str) -> str:
        """Remove ``as_``'s pin of ``root`` (missing_metadata when it has none): it stops
        counting against the pin quota now, and its blocks against the storage quota after
        the gateway's grace (``usage().gc_grace``), when they are collected unless someone
        else keeps them. Until then it still opens; ``delete`` ends it all at once."""
        binary = _cid(root)
        await (await self._client(as_)).unpin(binary)
        return cid_str(binary)

    async def delete(self, root: str, *, as_: str) -> types.Deleted:
        """Delete an envelope: every share and send link ``as_`` made of it is revoked (what
        was opened stays opened), ``as_``'s pin of it removed, it leaves the account's library
        (on every device), and what its blocks cost ``as_``'s storage quota is given back at
        once (the gateway collects blocks nobody else keeps). A pin another device of the
        account made stays until that device deletes it too."""
        from ..core.errors import MissingMetadataError
        client = await self._client(as_)
        binary = _cid(root)
        root = cid_str(binary)
        try:
            revoked = await client.revoke(binary)  # every share and send link of it, to anyone
        except MissingMetadataError:
            revoked = []
        try:
            await client.unpin(binary)
            unpinned = True
        except MissingMetadataError:
            unpinned = False
        released = await client.release_root(binary)
        account = await self._account(as_)  # last: the room given back pays for the library's change
        in_library = None if account is None else await accounts.forget_envelope(client, account, root)
        return types.Deleted(root, unpinned, in_library, tuple(revoked), int(released["bytes"]))

    async def access(self, root: str, *, as_: str) -> types.Access:
        """Who can open it: the header's recipients (for good) and the shares I made."""
        from ..core.envelope import read_header
        client = await self._client(as_)
        binary = _cid(root)
        header = await read_header(client.backend, binary, client.get_block)
        known = {p.id: p.name for p in await self._store.contacts() + await self._store.identities()}
        return types.Access(
            tuple(types.AccessEntry(e.recipient, known.get(e.recipient)) for e in header.recipients),
            tuple(types.ShareState(row["cid"], row["recipient"], known.get(row["recipient"]), row["expires"],
                                   row["state"]) for row in await client.shares_made(binary)))

    async def inbox(self, as_: str, *, all: bool = False) -> list[types.InboxMessage]:
        """Shares and notices sent to ``as_``, each sender proven (a share by its signed
        proof); kept in the account's library for my other devices."""
        client = await self._client(as_)
        rows = await client.inbox(include_acked=all)
        account = await self._account(as_)
        if account is not None and any(row.get("share") for row in rows):
            await accounts.remember_shares(client, account, rows)
        out = []
        for row in rows:
            share = row.get("share") or {}
            sender = await self._store.known(row["sender"]) if row.get("sender") else None
            out.append(types.InboxMessage(str(row["id"]), row["kind"], row.get("sender"), sender.name if sender else None,
                                          row.get("created"), row.get("size", 0), bool(row.get("acked")),
                                          share.get("root"), share.get("capsule"), share.get("expires"),
                                          share.get("policy")))
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
        contacts = await accounts.library_contacts(store.backend, library)
        local = await store.contacts()
        known, names = {c.id for c in local}, {c.name for c in local} | set(store.identity_names())
        for public in contacts:
            if public.id not in known and public.name not in names:
                await store.add_contact(public.to_json())
        envelopes = tuple(types.EnvelopeEntry(root, str(v.get("name", "")), int(v.get("size") or 0), v.get("created"))
                          for root, v in library.items("envelope").items())
        shares = []
        for capsule, v in library.items("share").items():
            sender = await store.known(str(v.get("sharer", "")))
            shares.append(types.LibraryShare(str(v.get("root", "")), capsule, v.get("sharer"),
                                             sender.name if sender else None, v.get("received")))
        return types.Library(envelopes, tuple(shares), tuple(_contact(p, None) for p in contacts))


# --- the families (kit.identity, kit.contacts, ...) ----------------------------------------------

class _Family:
    def __init__(self, kit: MeshKit):
        self._kit = kit


class Identities(_Family):
    async def create(self, name: str, *, account: bool = True) -> types.CreatedIdentity:
        """A new identity (this program's device keys, 0600 in the home), published, and an
        account around it with a recovery phrase: in this answer only, shown once. All or
        nothing: on any failure no identity is left behind. ``account=False``: a bare
        identity (no other devices, no recovery)."""
        kit = self._kit
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
                phrase, record = await accounts.create_account(client, name)
                kit._store.save_account(name, record)
        except BaseException:
            kit._clients.pop(name, None)
            kit._store.remove(name)
            raise
        return types.CreatedIdentity(**_identity(identity.public, record).__dict__, published=True,
                                     recovery_phrase=phrase)

    async def list(self) -> list[types.Identity]:
        """My identities in this home, each with its account as last verified here."""
        return [await self._kit._identity_of(name) for name in self._kit._store.identity_names()]

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

    async def recover(self, name: str, phrase: str) -> types.RecoveredIdentity:
        """A new device ``name`` in the phrase's account, with everything in its library
        opening again. A mistyped phrase is refused (bad_phrase) before anything is made."""
        from ..core.account import secret_from_phrase
        kit = self._kit
        secret_from_phrase(phrase)
        await kit.start()
        await kit._store.create(name, int(time.time()))
        try:
            client = await kit._client(name)
            record, keys = await accounts.recover_account(client, phrase)
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
                kept = await accounts.contact_account(client, public, account_id,
                                                      kit._store.known_account(account_id))
                kit._store.save_known_account(kept)
        public = await kit._store.add_contact(record)
        if kit.gateway is not None:
            await kit._remember_contact(public)
        return _contact(public, kept)

    async def list(self) -> list[types.Contact]:
        """The contacts kept in this home (each one's record verifies)."""
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
            if keys.account_id != record.id:
                raise InvalidArgumentError("that phrase belongs to another account")
        record = await accounts.remove_devices(await kit._client(name), record, ids, keys=keys)
        kit._store.save_account(name, record)
        return record.version

    async def request_link(self, device_name: str) -> str:
        """On a new device: make identity ``device_name`` and a link for an existing device
        to approve (``approve``); then ``wait_for_link``."""
        kit = self._kit
        await kit.start()
        try:
            await kit._store.load(device_name)
        except UnknownIdentityError:
            await kit._store.create(device_name, int(time.time()))
        return await accounts.request_link(await kit._client(device_name))

    async def approve(self, name: str, link: str, *, on_code: Callable[[str], None],
                      timeout: float | None = None) -> types.Device:
        """On a device of the account: add the linked device. ``on_code(code)`` shows the
        code the person types on the new device."""
        kit = self._kit
        record = await self._record(name)
        record = await accounts.approve_link(await kit._client(name), record, link, show_code=on_code,
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
        ``meshkit receive``, or with ``send_links.open`` on any kit (no identity needed)."""
        from ..clients.send_links import create_send_link
        from ..core.send_link import check_opens
        opens = check_opens(opens)
        client = await self._kit._client(from_)
        when = await client.expiry(expires)
        fragment, capsule = await create_send_link(client, _cid(root), expires=when, opens=opens)
        return types.SendLink(f"{self._kit.link_base}/#{fragment}", capsule, root, when, opens)

    async def describe(self, link: str) -> types.Described:
        """What a send link opens (name, type, size, sender, opens left); spends no open."""
        from ..clients.send_links import describe_send_link
        kit = self._kit
        await kit.start()
        found = await describe_send_link(self._client_class(), kit.gateway, kit._store.backend, link)
        return await kit._described(found, found.header, found.opens_left)

    async def open(self, link: str) -> types.Opened:
        """Open what a send link points at, spending one of its opens; no identity of this
        home is used (any kit will do). Read it before the kit closes: its session ends then."""
        from ..clients.send_links import open_send_link
        kit = self._kit
        await kit.start()
        opened, client = await open_send_link(self._client_class(), kit.gateway, kit._store.backend, link)
        kit._clients[f"\0link:{id(client)}"] = client  # closed with the kit
        described = await kit._described(opened, opened.header)
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
        home (never rolled back), or None} (the browser's senderAccount)."""
        store, found = self._kit._store, {}
        for sender in sorted(senders):
            try:
                kept = await accounts.account_reaching(client, sender, store.known_account(sender))
            except MeshKitError as exc:
                log.info("the account of a message's sender is not known (%s)", exc.code)
                kept = None
            if kept is not None:
                store.save_known_account(kept)
            found[sender] = kept.record.id if kept is not None else None
        return found

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
                          record.fingerprint if record else None, record.version if record else None)


def _contact(public, kept) -> types.Contact:
    return types.Contact(public.name, public.id, kept.record.fingerprint if kept else public.fingerprint,
                         kept.record.id if kept else None, kept.record.fingerprint if kept else None)


def _proof(proof) -> types.Proof:
    return types.Proof(cid_str(proof.cid), proof.statement, cid_str(proof.root), proof.signer_id, proof.time,
                       proof.recipient, cid_str(proof.capsule) if proof.capsule else None, proof.expires, proof.data)

