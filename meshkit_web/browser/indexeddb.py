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
from .webcrypto import CryptoKeyHandle

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


async def _probe_x25519(db) -> str | None:
    """Can this engine store an X25519 CryptoKey in IndexedDB? None if it can (the key read
    back still agrees with its public key), else what went wrong. A throwaway key is put,
    read back and deleted in one transaction: feature detection, never user-agent sniffing."""
    subtle = js.crypto.subtle
    try:
        pair = await subtle.generateKey(_obj({"name": "X25519"}), False, to_js(["deriveBits"]))
        store = db.transaction("identities", "readwrite").objectStore("identities")
    except JsException as exc:
        return f"the probe could not start ({getattr(exc, 'name', type(exc).__name__)})"
    try:
        # all three requests are made before any await, or the transaction would end
        store.put(_obj({"name": _PROBE_NAME, "enc_private": pair.privateKey}))
        read = store.get(_PROBE_NAME)
        store.delete(_PROBE_NAME)
    except JsException as exc:  # WebKit: DataError/DataCloneError, at once
        return f"storing an X25519 CryptoKey fails ({getattr(exc, 'name', type(exc).__name__)})"
    try:
        row = await _request(read)
        key = row.enc_private
        params = _obj({"name": "X25519", "public": pair.publicKey})
        mine = (await subtle.deriveBits(params, key, 256)).to_bytes()
        theirs = (await subtle.deriveBits(params, pair.privateKey, 256)).to_bytes()
    except (IOError, JsException, AttributeError) as exc:
        return f"an X25519 CryptoKey does not come back from IndexedDB ({type(exc).__name__})"
    return None if mine == theirs else "an X25519 CryptoKey comes back from IndexedDB changed"


class IndexedDBStore:
    persistent = True
    kind = "indexeddb"

    def __init__(self, db, x25519_unstorable: str | None = None):
        self.db = db
        # None: X25519 CryptoKeys store as they are; else why not (their keys are then wrapped)
        self.x25519_unstorable = x25519_unstorable

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
        return cls(db, await _probe_x25519(db))

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
        return Identity(public, CryptoKeyHandle(row["sig_private"]), enc)

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
