"""The browser's storage: IndexedDB (identity records + non-extractable CryptoKey objects,
contacts, the list of my envelopes, the outbox's jobs and their sealed blocks, the
mailbox seen in the background), with an in-memory fallback when IndexedDB is unavailable
or blocked. The page and the service worker open the same database: the one their namespace
names (namespace.py).

IndexedDB ends a transaction as soon as control returns to the event loop with no
request pending, so each operation here is one request in its own transaction.

Identity rows (store "identities", keyed by name) hold ``name``, ``id``, ``record`` (the
signed public record) and the private keys as non-extractable CryptoKeys: ``sig_private``
(Ed25519) and ``enc_private`` (X25519). An engine that cannot store an X25519 CryptoKey
(WebKit: it cannot go through structured clone; found by ``_probe_x25519``, which stores a
throwaway key) keeps ``enc_private`` wrapped instead (webcrypto.py says why and what it
costs): the row then has ``enc_private_wrapped`` (the wrapped pkcs8 blob),
``enc_wrapping_key`` (the non-extractable AES-KW CryptoKey that unwraps it) and
``enc_private_form`` = "pkcs8/AES-KW", and no ``enc_private``. Rows of the first shape are
read as before everywhere; only engines that need it write the second.

A hybrid identity's row also has its X-Wing private key, made only where WebCrypto has X-Wing
and ``_probe_storable`` found that IndexedDB keeps it, in one of two forms: ``pq_private``, one
non-extractable MLKEM768-X25519 CryptoKey; or, where IndexedDB cannot keep that (Chromium 156:
a put with an in-line key fails with DataError, one with an out-of-line key reads back as
null) but keeps its parts, ``pq_mlkem`` (ML-KEM-768) and ``pq_x25519`` (X25519), two
non-extractable CryptoKeys that webcrypto.py combines as X-Wing; the public key is the
record's ``pq_key``. Rows without either (classic identities) load as before.
"""

import asyncio
import json
import logging

from ..core.backend import CryptoBackend
from ..core.errors import MeshKitError, UnsupportedError
from ..core.identity import Identity, PublicIdentity, record_from_bytes
from . import ffi
from .ffi import JsException, create_proxy, js, js_bytes, to_js
from .memory import DB_VERSION, STORES, MemoryStore
from .webcrypto import MLKEM, MLKEM_USAGES, XWING, XWING_USAGES, CryptoKeyHandle, XWingPartsHandle

log = logging.getLogger("meshkit.browser")

def _obj(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


async def _request(request):
    """Await an IDBRequest (or IDBOpenDBRequest): its result, or a JsException-derived error."""
    future = asyncio.get_event_loop().create_future()

    def done(event):
        if not future.done():
            future.set_result(request.result)

    def failed(event):
        if not future.done():
            error = request.error
            future.set_exception(IOError(f"IndexedDB: {getattr(error, 'name', 'error')}"))

    def blocked(event):
        if not future.done():
            future.set_exception(IOError("IndexedDB: blocked by another open tab"))

    proxies = [create_proxy(done), create_proxy(failed), create_proxy(blocked)]
    request.onsuccess, request.onerror = proxies[0], proxies[1]
    if hasattr(request, "onupgradeneeded"):
        request.onblocked = proxies[2]
    try:
        return await future
    finally:
        request.onsuccess = request.onerror = None
        for proxy in proxies:
            proxy.destroy()


_PROBE_NAME = "\u0000meshkit-probe"  # a name no identity can have (never left behind: deleted in the same transaction)
WRAPPED_FORM = "pkcs8/AES-KW"


async def _x25519_agrees(subtle, stored, pair) -> bool:
    params = _obj({"name": "X25519", "public": pair.publicKey})
    mine = (await subtle.deriveBits(params, stored, 256)).to_bytes()
    return mine == (await subtle.deriveBits(params, pair.privateKey, 256)).to_bytes()


async def _xwing_agrees(subtle, stored, pair) -> bool:
    params = _obj({"name": XWING})
    made = await subtle.encapsulateBits(params, pair.publicKey)
    return (await subtle.decapsulateBits(params, stored, made.ciphertext)).to_bytes() == made.sharedKey.to_bytes()


async def _mlkem_agrees(subtle, stored, pair) -> bool:
    params = _obj({"name": MLKEM})
    made = await subtle.encapsulateBits(params, pair.publicKey)
    return (await subtle.decapsulateBits(params, stored, made.ciphertext)).to_bytes() == made.sharedKey.to_bytes()


# what each probed key is: its WebCrypto algorithm, usages, and the check that a key read back still works
_PROBES = {"X25519": (("deriveBits",), _x25519_agrees), XWING: (XWING_USAGES, _xwing_agrees),
           MLKEM: (MLKEM_USAGES, _mlkem_agrees)}
# the row fields each probe stores, as identities' rows store them
X25519_FIELDS = {"key": "X25519"}
XWING_FIELDS = {"key": XWING}
XWING_PARTS_FIELDS = {"pq_mlkem": MLKEM, "pq_x25519": "X25519"}  # an X-Wing key as its two parts


def _named(fields: dict) -> str:
    algorithms = list(fields.values())
    return f"an {algorithms[0]} CryptoKey" if len(algorithms) == 1 else " and ".join(algorithms) + " CryptoKeys"


async def _probe_storable(db, fields: dict) -> str | None:
    """Can this engine store, in one row, a CryptoKey of each algorithm ``fields`` names (field
    -> algorithm)? None if it can (each key read back still agrees with its pair), else what
    went wrong. Throwaway keys are put, read back and deleted in one transaction: feature
    detection, never user-agent sniffing."""
    subtle = js.crypto.subtle
    what = _named(fields)
    try:
        pairs = {field: await subtle.generateKey(_obj({"name": algorithm}), False,
                                                 to_js(list(_PROBES[algorithm][0])))
                 for field, algorithm in fields.items()}
        store = db.transaction("identities", "readwrite").objectStore("identities")
    except JsException as exc:
        return f"the probe could not start ({getattr(exc, 'name', type(exc).__name__)})"
    try:
        # all three requests are made before any await, or the transaction would end
        store.put(_obj({"name": _PROBE_NAME, **{field: pair.privateKey for field, pair in pairs.items()}}))
        read = store.get(_PROBE_NAME)
        store.delete(_PROBE_NAME)
    except JsException as exc:  # WebKit: DataError/DataCloneError, at once
        return f"storing {what} fails ({getattr(exc, 'name', type(exc).__name__)})"
    try:
        back = await _request(read)
        same = [await _PROBES[algorithm][1](subtle, getattr(back, field), pairs[field])
                for field, algorithm in fields.items()]
    except (IOError, JsException, AttributeError) as exc:
        return f"{what} do{'es' if len(fields) == 1 else ''} not come back from IndexedDB ({type(exc).__name__})"
    return None if all(same) else f"{what} come{'s' if len(fields) == 1 else ''} back from IndexedDB changed"


class IndexedDBStore:
    persistent = True
    kind = "indexeddb"

    def __init__(self, db, x25519_unstorable: str | None = None, xwing_unstorable: str | None = None,
                 xwing_parts_unstorable: str | None = None):
        self.db = db
        # None: X25519 CryptoKeys store as they are; else why not (their keys are then wrapped)
        self.x25519_unstorable = x25519_unstorable
        # None: X-Wing CryptoKeys store as they are; else why not (their keys are then kept as parts)
        self.xwing_unstorable = xwing_unstorable
        # None: an X-Wing key's two parts (ML-KEM-768, X25519 CryptoKeys) store; else why not
        # (where neither form stores, identities are classic)
        self.xwing_parts_unstorable = xwing_parts_unstorable

    @classmethod
    async def open(cls) -> "IndexedDBStore":
        factory = getattr(js.globalThis, "indexedDB", None)
        if factory is None:
            raise IOError("IndexedDB is not available in this browser context")
        try:
            request = factory.open(ffi.names.database, DB_VERSION)
        except JsException as exc:  # SecurityError (e.g. storage blocked)
            raise IOError(f"IndexedDB refused to open ({type(exc).__name__})") from None

        def upgrade(event):
            db = request.result
            for name, key in STORES.items():
                if not db.objectStoreNames.contains(name):
                    db.createObjectStore(name, _obj({"keyPath": key}))
        upgrade_proxy = create_proxy(upgrade)
        request.onupgradeneeded = upgrade_proxy
        try:
            db = await _request(request)
        finally:
            upgrade_proxy.destroy()
        xwing = await _probe_storable(db, XWING_FIELDS)
        parts = None if xwing is None else await _probe_storable(db, XWING_PARTS_FIELDS)
        return cls(db, await _probe_storable(db, X25519_FIELDS), xwing, parts)

    def _store(self, name: str, mode: str):
        return self.db.transaction(name, mode).objectStore(name)

    async def put(self, store: str, value: dict) -> None:
        value = {k: js_bytes(v) if isinstance(v, (bytes, bytearray)) else v for k, v in value.items()}
        await _request(self._store(store, "readwrite").put(_obj(value)))

    async def get(self, store: str, key: str):
        result = await _request(self._store(store, "readonly").get(key))
        return None if result is None or result is js.undefined else _from_js(result)

    async def all(self, store: str) -> list[dict]:
        result = await _request(self._store(store, "readonly").getAll())
        return [_from_js(item) for item in result]

    async def delete(self, store: str, key: str) -> None:
        await _request(self._store(store, "readwrite").delete(key))

    async def delete_prefix(self, store: str, prefix: str) -> None:
        """Every record whose (string) key starts with ``prefix``, in one request."""
        keys = js.IDBKeyRange.bound(prefix, prefix + "\uffff")
        await _request(self._store(store, "readwrite").delete(keys))

    async def count_prefix(self, store: str, prefix: str) -> int:
        """How many records' (string) keys start with ``prefix`` (no record is read)."""
        keys = js.IDBKeyRange.bound(prefix, prefix + "\uffff")
        return int(await _request(self._store(store, "readonly").count(keys)))


def _from_js(value) -> dict:
    """A stored record as a dict: bytes for Uint8Array fields, CryptoKeys kept as JS objects."""
    out = {}
    for key in js.Object.keys(value):
        item = getattr(value, key)
        if isinstance(item, (str, int, float, bool)) or item is None:
            out[key] = item
        elif js.ArrayBuffer.isView(item):
            out[key] = item.to_bytes()
        elif js.Array.isArray(item) or getattr(item, "constructor", None) == js.Object:
            out[key] = item.to_py()  # plain lists and objects (job errors, recipients)
        else:
            out[key] = item  # a CryptoKey (or another JS object) stays as it is
    return out


def _pq_handle(row: dict, public: PublicIdentity):
    """The X-Wing key a row holds, in either form; None in a classic identity's row (and rows
    older than X-Wing). The parts' public key is the signed record's."""
    if row.get("pq_mlkem") is not None and row.get("pq_x25519") is not None and public.pq_key:
        return XWingPartsHandle(row["pq_mlkem"], row["pq_x25519"], public.pq_key)
    pq = row.get("pq_private")
    return None if pq is None else CryptoKeyHandle(pq)


async def open_store():
    """IndexedDB when it works, else memory; the second value says why it fell back."""
    try:
        return await IndexedDBStore.open(), None
    except (IOError, JsException) as exc:
        return MemoryStore(), str(exc)


class IdentityStore:
    """Identities, contacts and my envelopes over IndexedDB (or memory)."""

    def __init__(self, db, backend: CryptoBackend):
        self.db = db
        self.backend = backend
        self._unwrapped: dict[bytes, CryptoKeyHandle] = {}  # wrapped blob -> its unwrapped key, this session
        unstorable = getattr(db, "x25519_unstorable", None)  # the memory store holds any key object
        if unstorable:  # X25519 keys made from now on are kept wrapped (webcrypto.py)
            backend.keep_x25519_wrapped(unstorable)
        xwing_unstorable = getattr(db, "xwing_unstorable", None)
        parts_unstorable = getattr(db, "xwing_parts_unstorable", None)
        if xwing_unstorable and not parts_unstorable:  # Chromium: the two parts, each a CryptoKey
            backend.keep_xwing_as_parts()
        elif xwing_unstorable:  # no X-Wing key is made that could not be kept (seals still wrap to others')
            backend.keep_no_xwing_keys(f"{xwing_unstorable}; {parts_unstorable}")

    async def save_identity(self, identity: Identity) -> None:
        row = {"name": identity.name, "id": identity.id, "record": identity.public.to_bytes(),
               "sig_private": identity.sig_private.key}
        enc = identity.enc_private
        if getattr(enc, "wrapped", None) is not None:
            row.update(enc_private_wrapped=enc.wrapped, enc_wrapping_key=enc.wrapping_key,
                       enc_private_form=WRAPPED_FORM)
        elif getattr(self.db, "x25519_unstorable", None):
            raise UnsupportedError("this browser cannot store this X25519 key (it was not made to be wrapped)")
        else:
            row["enc_private"] = enc.key
        pq = identity.pq_private
        if isinstance(pq, XWingPartsHandle):
            if getattr(self.db, "xwing_parts_unstorable", None):
                raise UnsupportedError("this browser cannot store an X-Wing key's parts")
            row.update(pq_mlkem=pq.mlkem, pq_x25519=pq.x25519)
        elif pq is not None:
            if getattr(self.db, "xwing_unstorable", None):
                raise UnsupportedError("this browser cannot store an X-Wing key")
            row["pq_private"] = pq.key
        await self.db.put("identities", row)

    async def load_identity(self, name: str) -> Identity | None:
        row = await self.db.get("identities", name)
        if row is None:
            return None
        public = await record_from_bytes(self.backend, bytes(row["record"]))
        if row.get("enc_private_form") == WRAPPED_FORM:
            wrapped = bytes(row["enc_private_wrapped"])
            enc = self._unwrapped.get(wrapped)
            if enc is None:
                enc = await self.backend.x25519_unwrap(wrapped, row["enc_wrapping_key"])
                if len(self._unwrapped) > 64:
                    self._unwrapped.clear()
                self._unwrapped[wrapped] = enc
        else:
            enc = CryptoKeyHandle(row["enc_private"])
        return Identity(public, CryptoKeyHandle(row["sig_private"]), enc, _pq_handle(row, public))

    async def identities(self) -> list[PublicIdentity]:
        rows = await self.db.all("identities")
        return [await record_from_bytes(self.backend, bytes(row["record"])) for row in rows]

    async def add_contact(self, public: PublicIdentity) -> None:
        await self.db.put("contacts", {"id": public.id, "name": public.name, "record": public.to_bytes()})

    async def contacts(self) -> list[PublicIdentity]:
        """Every contact that still verifies; one that does not (written by an older version
        under older rules, or damaged) is skipped with a warning instead of hiding the rest."""
        found = []
        for row in await self.db.all("contacts"):
            try:
                found.append(await record_from_bytes(self.backend, bytes(row["record"])))
            except MeshKitError as exc:
                log.warning("ignoring a stored contact that no longer verifies: %s", exc.code)
        return found

    async def contact(self, ident: str) -> PublicIdentity | None:
        row = await self.db.get("contacts", ident)
        return None if row is None else await record_from_bytes(self.backend, bytes(row["record"]))

    async def add_envelope(self, owner: str, entry: dict) -> None:
        await self.db.put("envelopes", {"key": owner + " " + entry["root"], "owner": owner, **entry})

    async def envelopes(self, owner: str) -> list[dict]:
        rows = [r for r in await self.db.all("envelopes") if r.get("owner") == owner]
        return sorted(rows, key=lambda r: r.get("created", 0), reverse=True)

    # the mailbox as last seen (by the page or the worker), for offline reading and news
    async def remember_message(self, owner: str, message: dict) -> None:
        await self.db.put("mailbox", {"key": owner + " " + message["id"], "owner": owner,
                                      "message": json.dumps(message)})

    async def messages(self, owner: str) -> list[dict]:
        return [json.loads(r["message"]) for r in await self.db.all("mailbox") if r.get("owner") == owner]

    async def message(self, owner: str, message_id: str) -> dict | None:
        row = await self.db.get("mailbox", owner + " " + message_id)
        return None if row is None else json.loads(row["message"])

    # accounts: per device identity, the newest account record verified here
    async def save_account(self, name: str, record, kit_confirmed: bool | None = None) -> None:
        old = await self.db.get("accounts", name)
        confirmed = bool(old and old.get("kit_confirmed")) if kit_confirmed is None else kit_confirmed
        await self.db.put("accounts", {"name": name, "record": record.data, "kit_confirmed": confirmed,
                                       "seen_devices": old.get("seen_devices") if old else None})

    async def seen_devices(self, name: str) -> list | None:
        """The device ids listed to the user last time (None: never listed)."""
        row = await self.db.get("accounts", name)
        return list(row["seen_devices"]) if row and row.get("seen_devices") is not None else None

    async def save_seen_devices(self, name: str, ids: list) -> None:
        row = await self.db.get("accounts", name)
        if row is not None:
            await self.db.put("accounts", {**row, "seen_devices": list(ids)})

    async def load_account(self, name: str):
        """(the account record, kit confirmed?) for device ``name``; (None, False) without one."""
        from ..core.account import parse_account_record
        row = await self.db.get("accounts", name)
        if row is None:
            return None, False
        return parse_account_record(bytes(row["record"]))[0], bool(row.get("kit_confirmed"))

    # other people's accounts, as verified here (never rolled back)
    async def known_account(self, ident: str):
        """The kept account that ``ident`` means (its id, or a device it certified), or None."""
        from ..core.account import known_account_from_bytes
        row = await self.db.get("known_accounts", ident)
        if row is not None:
            return known_account_from_bytes(bytes(row["data"]))
        for row in await self.db.all("known_accounts"):
            kept = known_account_from_bytes(bytes(row["data"]))
            if kept.means(ident):
                return kept
        return None

    async def save_known_account(self, kept) -> None:
        await self.db.put("known_accounts", {"id": kept.record.id, "data": kept.to_bytes()})

    # what this browser verified of its accounts' libraries (clients.accounts.LibraryState)
    async def library_parts(self, account: str) -> list[bytes]:
        rows = [row for row in await self.db.all("library_parts") if row["key"].startswith(account + " ")]
        return [bytes(row["data"]) for row in sorted(rows, key=lambda row: row["key"])]

    async def add_library_part(self, account: str, data: bytes) -> None:
        rows = [row["key"] for row in await self.db.all("library_parts") if row["key"].startswith(account + " ")]
        seq = max((int(key.split(" ")[1]) for key in rows), default=0) + 1
        await self.db.put("library_parts", {"key": f"{account} {seq:09d}", "data": data})

    async def replace_library_parts(self, account: str, data: bytes) -> None:
        await self.db.delete_prefix("library_parts", account + " ")
        await self.db.put("library_parts", {"key": f"{account} {1:09d}", "data": data})

    # what apps' messages and records never go back on (clients.app_data's keeper)
    async def app_state(self, key: str) -> bytes | None:
        row = await self.db.get("app_state", key)
        return None if row is None else bytes(row["data"])

    async def save_app_state(self, key: str, data: bytes) -> None:
        await self.db.put("app_state", {"key": key, "data": bytes(data)})
