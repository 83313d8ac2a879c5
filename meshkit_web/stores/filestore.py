"""Identities and contacts as files under a MeshKit home directory (the CPython runtime).

    HOME/identities/NAME.json   private keys + public record
    HOME/contacts/ID.json       imported public records
    HOME/accounts/, known-accounts/   account records verified here

Every file is mode 0600 from its first byte, every folder 0700: even public records say who
one deals with (`meshkit doctor` checks this).

Private keys on CPython are exportable by nature: file permissions are their protection.
"""

import json
import logging
import os
import tempfile

from ..core.errors import (IdentityExistsError, IdentityMismatchError, InvalidArgumentError, MeshKitError,
                           UnknownIdentityError)
from ..core.recipients import check_suite, resolve_local
from ..core.signing import is_identity_id
from ..core.identity import Identity, PublicIdentity, create_identity, record_from_json
from ..core import codec
from ..crypto.nacl_backend import NaclBackend


log = logging.getLogger("meshkit.store")
MAX_PQ_KEYS = 10_000  # ids whose X-Wing key this home remembers from the directory


class FileStore:
    def __init__(self, home: str, backend: NaclBackend):
        self.home = os.path.abspath(home)
        self.backend = backend
        self._identities = os.path.join(self.home, "identities")
        self._contacts = os.path.join(self.home, "contacts")
        self._accounts = os.path.join(self.home, "accounts")
        self._known_accounts = os.path.join(self.home, "known-accounts")
        self._warned: set[str] = set()

    def _ensure_dirs(self) -> None:
        for directory in (self.home, self._identities, self._contacts, self._accounts, self._known_accounts):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)

    @staticmethod
    def _write_private(path: str, data: bytes) -> None:
        """``data`` at ``path``, replaced atomically, mode 0600 from the first byte."""
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))  # mkstemp: 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def _identity_path(self, name: str) -> str:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise UnknownIdentityError("identity names may not contain slashes or start with a dot")
        return os.path.join(self._identities, name + ".json")

    async def create(self, name: str, now: int, *, pq: bool | None = None) -> Identity:
        """A new identity, hybrid (X-Wing beside X25519) unless ``pq`` is False."""
        self._ensure_dirs()
        path = self._identity_path(name)
        identity = await create_identity(self.backend, name, now, pq=pq)  # InvalidArgumentError: the name rule
        secret = {"record": identity.public.to_json(),
                  "sig_private": codec.b64e(self.backend.export_private(identity.sig_private)),
                  "enc_private": codec.b64e(self.backend.export_private(identity.enc_private))}
        if identity.pq_private is not None:  # the X-Wing seed, 0600 like the others
            secret["pq_private"] = codec.b64e(self.backend.export_private(identity.pq_private))
        try:  # O_EXCL: never overwrite an identity; 0600 from the first byte
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise IdentityExistsError(f"identity {name!r} already exists") from None
        with os.fdopen(fd, "w") as out:
            json.dump(secret, out)
        return identity

    async def load(self, name: str) -> Identity:
        path = self._identity_path(name)
        try:
            with open(path) as f:
                secret = json.load(f)
        except FileNotFoundError:
            raise UnknownIdentityError(f"no identity named {name!r} in this home") from None
        public = await record_from_json(self.backend, secret["record"])
        pq_private = None
        if public.pq_key:
            pq_private, pq_key = await self.backend.xwing_import_seed(codec.b64d(secret.get("pq_private", "")))
            if pq_key != public.pq_key:
                raise IdentityMismatchError(f"identity {name!r}: its X-Wing private key does not match its record")
        return Identity(public, self.backend.import_private(codec.b64d(secret["sig_private"])),
                        self.backend.import_private(codec.b64d(secret["enc_private"])), pq_private)

    def remove(self, name: str) -> None:
        """Forget identity ``name`` and its account record (an identity whose creation did
        not finish: nothing half-made is left behind)."""
        for path in (self._identity_path(name), os.path.join(self._accounts, name + ".cbor")):
            if os.path.lexists(path):
                os.unlink(path)

    def identity_names(self) -> list[str]:
        if not os.path.isdir(self._identities):
            return []
        return sorted(f[:-5] for f in os.listdir(self._identities) if f.endswith(".json"))

    async def add_contact(self, record: dict) -> PublicIdentity:
        """Keep ``record`` as a contact (replacing the one of that id), unless it drops or
        changes an X-Wing key this home saw for the id (identity_mismatch: core.recipients.check_suite)."""
        public = await record_from_json(self.backend, record)
        check_suite(public, self.seen_pq_key_of(public.id))
        self._ensure_dirs()
        self._write_private(os.path.join(self._contacts, public.id + ".json"),
                            json.dumps(public.to_json(), indent=2).encode())
        self.remember_pq_key(public)
        return public

    # X-Wing keys seen in verified records of ids that are not (yet) contacts: the directory's
    # answers. A later record of the id must list the same key (core.recipients.check_suite).
    def _pq_key_path(self, ident: str) -> str:
        return os.path.join(self.home, "pq-keys", ident)

    def seen_pq_key_of(self, ident) -> bytes | None:
        """The X-Wing key this home verified for ``ident`` before, or None (none seen)."""
        if not is_identity_id(ident):
            return None
        try:
            with open(self._pq_key_path(ident)) as f:
                return codec.b64d(f.read().strip())
        except FileNotFoundError:
            pass
        try:  # a contact kept before keys were remembered here (it verified when it was kept)
            with open(os.path.join(self._contacts, ident + ".json")) as f:
                kept = json.load(f).get("pq_key")
            return codec.b64d(kept) if isinstance(kept, str) else None
        except (FileNotFoundError, ValueError, MeshKitError):
            return None

    def remember_pq_key(self, public: PublicIdentity) -> None:
        """Keep ``public``'s X-Wing key (a verified record's) for its id, once; at most
        MAX_PQ_KEYS ids (past that a new id is not kept: logged)."""
        if not public.pq_key or self.seen_pq_key_of(public.id) == public.pq_key:
            return
        folder = os.path.dirname(self._pq_key_path(public.id))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if len(os.listdir(folder)) >= MAX_PQ_KEYS:
            log.warning("%d post-quantum keys kept: %s's is not", MAX_PQ_KEYS, public.id)
            return
        self._write_private(self._pq_key_path(public.id), codec.b64e(public.pq_key).encode())

    async def contacts(self) -> list[PublicIdentity]:
        """Every contact file that still verifies; one that does not (tampered, or imported
        before a rule such as "no id-like names" existed) is skipped with a warning, so it
        can neither break nor pose in the others' resolution. The file is left for the user."""
        if not os.path.isdir(self._contacts):
            return []
        found = []
        for entry in sorted(os.listdir(self._contacts)):
            if entry.endswith(".json"):
                try:
                    with open(os.path.join(self._contacts, entry)) as f:
                        found.append(await record_from_json(self.backend, json.load(f)))
                except (MeshKitError, ValueError) as exc:
                    if entry not in self._warned:  # once per command, however often contacts are read
                        self._warned.add(entry)
                        log.warning("ignoring contact file %s: %s", entry, exc)
        return found

    async def identities(self) -> list[PublicIdentity]:
        return [(await self.load(name)).public for name in self.identity_names()]

    async def resolve(self, who: str) -> PublicIdentity | None:
        """The own identity or contact ``who`` means (core.recipients' rule); None for an id
        not known here."""
        return resolve_local(who, own=await self.identities(), contacts=await self.contacts())

    async def known(self, identity_id: str) -> PublicIdentity | None:
        for name in self.identity_names():
            identity = await self.load(name)
            if identity.id == identity_id:
                return identity.public
        return next((c for c in await self.contacts() if c.id == identity_id), None)

    # accounts: for each device identity, the newest record of its account this home verified
    def save_account(self, name: str, record) -> None:
        """Kept so that an older record is refused later (no rollback); written atomically."""
        self._identity_path(name)  # the same name rules
        self._ensure_dirs()
        self._write_private(os.path.join(self._accounts, name + ".cbor"), record.data)

    def load_account(self, name: str):
        """The account record this home verified last for device ``name``, or None."""
        from ..core.account import parse_account_record
        self._identity_path(name)
        try:
            with open(os.path.join(self._accounts, name + ".cbor"), "rb") as f:
                return parse_account_record(f.read())[0]
        except FileNotFoundError:
            return None

    # other people's accounts, as verified here (never rolled back)
    def known_account(self, ident: str):
        """The kept account that ``ident`` means (its id, or a device it certified), or None."""
        from ..core.account import known_account_from_bytes
        if not os.path.isdir(self._known_accounts):
            return None
        for entry in sorted(os.listdir(self._known_accounts)):
            if entry.endswith(".cbor"):
                with open(os.path.join(self._known_accounts, entry), "rb") as f:
                    kept = known_account_from_bytes(f.read())
                if kept.means(ident):
                    return kept
        return None

    def save_known_account(self, kept) -> None:
        self._ensure_dirs()
        # ids are [a-z2-7]
        self._write_private(os.path.join(self._known_accounts, kept.record.id + ".cbor"), kept.to_bytes())

    # what this home verified of its accounts' libraries (clients.accounts.LibraryState), as
    # numbered parts: appending one is as cheap at 20,000 entries as at none
    def _library_dir(self, account: str) -> str:
        if not is_identity_id(account):
            raise InvalidArgumentError("not an account id")
        return os.path.join(self.home, "libraries", account)

    async def library_parts(self, account: str) -> list[bytes]:
        folder = self._library_dir(account)
        if not os.path.isdir(folder):
            return []
        parts = []
        for entry in sorted(e for e in os.listdir(folder) if e.endswith(".cbor")):
            with open(os.path.join(folder, entry), "rb") as f:
                parts.append(f.read())
        return parts

    async def add_library_part(self, account: str, data: bytes) -> str:
        folder = self._library_dir(account)
        for directory in (os.path.dirname(folder), folder):  # makedirs gives a leaf's mode only
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        numbers = [int(e[:-5]) for e in os.listdir(folder) if e.endswith(".cbor") and e[:-5].isdigit()]
        path = os.path.join(folder, f"{max(numbers, default=0) + 1:09d}.cbor")
        self._write_private(path, data)
        return path

    async def replace_library_parts(self, account: str, data: bytes) -> None:
        kept = os.path.basename(await self.add_library_part(account, data))
        folder = self._library_dir(account)
        for entry in os.listdir(folder):
            if entry.endswith(".cbor") and entry != kept:
                os.unlink(os.path.join(folder, entry))
