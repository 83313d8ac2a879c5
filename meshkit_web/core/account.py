"""Accounts: a recovery secret, an account root, devices, and a chain of signed records.

The model (../shared/DESIGN.md, "Accounts, devices and recovery"; byte-exact in
docs/FORMAT.md section 11) is device fan-out with a recovery root:

- a **recovery secret** of 256 random bits, shown once as 24 BIP-39 words (the last word
  carries an 8-bit checksum, so a typo is caught before anything changes);
- HKDF from it: the **account root** (Ed25519) and the **recovery key** (X25519), and where
  the runtime can hold one a post-quantum recovery key (X-Wing, ``pq_recovery_key``). The
  account id and fingerprint derive from the first two public keys, so they are the same
  on every device and after recovery;
- **devices** with their own keys, each certified (a ``device`` object) by the account root
  or by a device already certified with ``can_add``;
- an **account record** (``account`` object): root and recovery public keys, the current
  device certificates, removed device ids, a version and the SHA-256 of the previous
  record's bytes, signed by the account root or by a ``can_add`` device of the previous
  version. Clients keep the highest version they verified and refuse anything older;
- a **replaced phrase** (``phrase``): the keys of a newer recovery secret, which from then
  on sign as the account root and receive as the recovery key (the account id and
  fingerprint stay those of the first phrase), and a **kit** flag: the current phrase was
  typed back on some device (set only in a record its root signs).

Pure: no I/O; keys go through the CryptoBackend, the word list through ``mnemonic``.
"""

import base64
import hashlib
import unicodedata
from dataclasses import dataclass

from . import codec, kdf
from .backend import CryptoBackend
from .errors import (AccountChainError, AccountRollbackError, EnvelopeFormatError, InvalidArgumentError,  # noqa: F401
                     RecoveryPhraseError)
from .identity import PublicIdentity, name_field, pq_key_field
from .signing import KEY_LEN, check_identity_key, identity_id, is_identity_id, sign_map, verify_map

ACCOUNT_KIND = "account"
DEVICE_KIND = "device"
CONSENT_KIND = "device-consent"
SECRET_LEN = 32
PHRASE_WORDS = 24
ACCOUNT_SALT = b"meshkit-web/v1 account"
ROOT_INFO = b"meshkit-web/v1 account-root"
RECOVERY_INFO = b"meshkit-web/v1 recovery-key"
RECOVERY_PQ_INFO = b"meshkit-web/v1 recovery-pq-key"  # the X-Wing seed of the recovery key
FINGERPRINT_PREFIX = b"meshkit-web/v1 account-fingerprint\x00"
MAX_DEVICES = 64
MAX_REMOVED = 1024
MAX_CHAIN = 256  # records checked in one update


# --- the recovery secret and its phrase ------------------------------------------------------

def _wordlist():
    from importlib import resources

    from mnemonic import Mnemonic  # pure Python, the reference BIP-39 implementation
    # read as a package resource, not by file path: the browser imports mnemonic from its
    # wheel as it is (zipimport, see build.py), where no such path exists
    words = resources.files("mnemonic").joinpath("wordlist/english.txt").read_text(encoding="utf-8")
    return Mnemonic("english", wordlist=[w.strip() for w in words.splitlines()])


def phrase_from_secret(secret: bytes) -> str:
    if len(secret) != SECRET_LEN:
        raise InvalidArgumentError("a recovery secret is 32 bytes")
    return _wordlist().to_mnemonic(secret)


def secret_from_phrase(phrase: str) -> bytes:
    """The secret from 24 words: case, extra spaces and full words or their unique first four
    letters are accepted; an unknown word (named by position only) or a checksum mismatch
    is RecoveryPhraseError."""
    m = _wordlist()
    words = unicodedata.normalize("NFKD", str(phrase)).lower().split()
    if len(words) != PHRASE_WORDS:
        raise RecoveryPhraseError(f"a recovery phrase has {PHRASE_WORDS} words, this has {len(words)}")
    full = []
    for position, word in enumerate(words, 1):
        matches = [w for w in m.wordlist if w == word] or (
            [w for w in m.wordlist if w.startswith(word)] if len(word) >= 4 else [])
        if len(matches) != 1:
            raise RecoveryPhraseError(f"word {position} is not a recovery word")
        full.append(matches[0])
    try:
        return bytes(m.to_entropy(" ".join(full)))
    except (ValueError, LookupError):
        raise RecoveryPhraseError("the phrase's checksum does not match: a word is mistyped") from None


@dataclass(frozen=True)
class RecoveryKeys:
    """What the recovery secret derives, as backend handles (held only while needed)."""
    root_private: object
    root_key: bytes
    recovery_private: object
    recovery_key: bytes
    pq_private: object = None        # the X-Wing recovery key, where the backend can make X-Wing keys
    pq_key: bytes | None = None

    @property
    def account_id(self) -> str:
        return identity_id(self.root_key)

    def __repr__(self) -> str:
        return f"<RecoveryKeys {self.account_id}>"


async def derive_recovery_keys(backend: CryptoBackend, secret: bytes) -> RecoveryKeys:
    if len(secret) != SECRET_LEN:
        raise InvalidArgumentError("a recovery secret is 32 bytes")
    root_seed = kdf.hkdf(secret, ROOT_INFO, 32, salt=ACCOUNT_SALT)
    recovery_seed = kdf.hkdf(secret, RECOVERY_INFO, 32, salt=ACCOUNT_SALT)
    root_private, root_key = await backend.ed25519_import_private(root_seed)
    recovery_private, recovery_key = await backend.x25519_import_private(recovery_seed)
    pq_private = pq_key = None
    if backend.pq_support()["seed"]:  # the phrase alone opens X-Wing entries too: the seed is from S
        pq_private, pq_key = await backend.xwing_import_seed(kdf.hkdf(secret, RECOVERY_PQ_INFO, 32, salt=ACCOUNT_SALT))
    return RecoveryKeys(root_private, root_key, recovery_private, recovery_key, pq_private, pq_key)


def account_fingerprint(root_key: bytes, recovery_key: bytes) -> str:
    """What contacts compare once: 32 base32 characters in groups of 4, stable for life."""
    digest = hashlib.sha256(FINGERPRINT_PREFIX + root_key + recovery_key).digest()[:20]
    text = base64.b32encode(digest).decode("ascii")
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


# --- device certificates -----------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceCert:
    account: str
    device: PublicIdentity  # the device's own keys, as an identity (id derived from its key)
    consent: bytes
    added: int
    can_add: bool
    signer: str             # the account id (root-signed) or the id of a can_add device
    map: dict               # the signed map, as it sits in account records

    @property
    def id(self) -> str:
        return self.device.id


def _consent_map(account: str, device_id: str, pq_key: bytes | None = None) -> dict:
    consent = {"meshkit": CONSENT_KIND, "v": 1, "account": account, "id": device_id}
    if pq_key:  # a hybrid device consents with its X-Wing key: nobody certifies it classic
        consent["pq_key"] = pq_key
    return consent


async def device_consent(backend: CryptoBackend, device_private, account: str, device_id: str,
                         pq_key: bytes | None = None) -> bytes:
    """The device's own signature saying it joins ``account`` (with its X-Wing key
    ``pq_key``, when it has one): nobody can enrol (and then remove, locking it out) a device
    that did not ask to join, nor certify a hybrid device without its X-Wing key."""
    return (await sign_map(backend, device_private, CONSENT_KIND, _consent_map(account, device_id, pq_key)))["sig"]


async def certify_device(backend: CryptoBackend, *, account: str, device: PublicIdentity, consent: bytes,
                         added: int, can_add: bool, signer_id: str, signer_private) -> DeviceCert:
    obj = {"meshkit": DEVICE_KIND, "v": 1, "account": account, "id": device.id, "name": device.name,
           "sig_key": device.sig_key, "enc_key": device.enc_key, "consent": consent, "added": added,
           "can_add": bool(can_add), "signer": signer_id}
    if device.pq_key:  # the device's X-Wing key, certified with its other keys (FORMAT.md 11.2)
        obj["pq_key"] = device.pq_key
    return _device(await sign_map(backend, signer_private, DEVICE_KIND, obj))


def _device(obj: dict) -> DeviceCert:
    """Fields of a device map (signature checked by the record that holds it)."""
    if not isinstance(obj, dict):
        raise EnvelopeFormatError("a device certificate is a map")
    codec.check_type(obj, DEVICE_KIND)
    sig_key = codec.field(obj, "sig_key", bytes, DEVICE_KIND, length=KEY_LEN)
    ident = codec.field(obj, "id", str, DEVICE_KIND)
    check_identity_key(ident, sig_key)
    name = name_field(obj, DEVICE_KIND)
    can_add = obj.get("can_add")
    if not isinstance(can_add, bool):
        raise EnvelopeFormatError("device field 'can_add' has the wrong type")
    added = codec.field(obj, "added", int, DEVICE_KIND)
    public = PublicIdentity(ident, name, sig_key, codec.field(obj, "enc_key", bytes, DEVICE_KIND, length=KEY_LEN),
                            added, b"", pq_key_field(obj, DEVICE_KIND))
    return DeviceCert(codec.field(obj, "account", str, DEVICE_KIND), public,
                      codec.field(obj, "consent", bytes, DEVICE_KIND, length=64), added, can_add,
                      codec.field(obj, "signer", str, DEVICE_KIND), obj)


# --- account records ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountRecord:
    id: str
    name: str
    root_key: bytes
    recovery_key: bytes
    version: int
    prev: bytes | None
    devices: tuple[DeviceCert, ...]
    removed: tuple[str, ...]
    created: int
    signer: str
    data: bytes
    phrase_root: bytes | None = None  # a replaced phrase's keys (FORMAT.md 11.7); None: the first phrase's
    phrase_key: bytes | None = None
    kit: bool = False                 # the current phrase was typed back on some device of the account
    pq_recovery_key: bytes | None = None  # the first phrase's X-Wing recovery key: fixed for life, or absent
    phrase_pq_key: bytes | None = None    # a replaced phrase's X-Wing recovery key, if it has one

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.data).digest()

    @property
    def phrase(self) -> tuple[bytes, bytes] | None:
        return (self.phrase_root, self.phrase_key) if self.phrase_root is not None else None

    @property
    def phrase_keys(self) -> tuple | None:
        """The replaced phrase's keys, its X-Wing one included: what "the same phrase" compares."""
        return (self.phrase_root, self.phrase_key, self.phrase_pq_key) if self.phrase_root is not None else None

    @property
    def current_root_key(self) -> bytes:
        """The key that signs as the account root now: the current phrase's."""
        return self.phrase_root or self.root_key

    @property
    def current_recovery_key(self) -> bytes:
        return self.phrase_key or self.recovery_key

    @property
    def current_pq_recovery_key(self) -> bytes | None:
        """The current phrase's X-Wing recovery key (None: that phrase has none, classic only)."""
        return self.phrase_pq_key if self.phrase_root is not None else self.pq_recovery_key

    def is_phrase(self, keys: "RecoveryKeys") -> bool:
        """Whether ``keys`` (derived from a phrase) are this account's current phrase."""
        pq = self.current_pq_recovery_key
        return keys.root_key == self.current_root_key and keys.recovery_key == self.current_recovery_key \
            and (pq is None or keys.pq_key is None or keys.pq_key == pq)

    @property
    def fingerprint(self) -> str:
        return account_fingerprint(self.root_key, self.recovery_key)

    def device(self, device_id: str) -> DeviceCert | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def added_by(self, device: DeviceCert) -> str:
        """Who added ``device`` (its certificate's signer, which only the root rewrites): a
        device's name, or the recovery phrase (the account root)."""
        if device.signer == self.id:  # the root: at the account's creation, or by a recovery
            return "the account's creation" if device.added == self.created else "the recovery phrase"
        signer = self.device(device.signer)
        return signer.device.name if signer else "a device since removed"

    def recovery_identity(self) -> PublicIdentity:
        """The recovery key as a recipient: id ``<account id>.recovery`` (not a device id)."""
        return PublicIdentity(recovery_recipient_id(self.id), self.name, self.current_root_key,
                              self.current_recovery_key, self.created, b"", self.current_pq_recovery_key)

    def recipients(self) -> list[PublicIdentity]:
        """Who a seal or capsule to this account wraps the content key to: every current
        device and the recovery key."""
        return [d.device for d in self.devices] + [self.recovery_identity()]


def kit_state(record: "AccountRecord | None", confirmed_here: bool = False) -> str:
    """The recovery kit as every device of the account reads it: "confirmed" (its current
    phrase was typed back on some device), "not confirmed", or "no account".
    ``confirmed_here``: a confirmation kept only on this device, from before the record said
    it; it counts only while the account still has its first phrase."""
    if record is None:
        return "no account"
    return "confirmed" if record.kit or (confirmed_here and record.phrase is None) else "not confirmed"


def added_through(record: "AccountRecord", gone: set, keep: str | None = None) -> set:
    """``gone`` and every device whose certificate a device in it signed, and so on (but
    never ``keep``): removing a stolen device also removes the devices it added, which
    would otherwise stay (their certificates are carried over, FORMAT.md 11.3)."""
    out = set(gone)
    for _ in range(MAX_DEVICES):
        more = {d.id for d in record.devices if d.id not in out and d.signer in out and d.id != keep}
        if not more:
            break
        out |= more
    return out


def recovery_recipient_id(account_id: str) -> str:
    return account_id + ".recovery"


CARRY = object()  # make_account_record's phrase: the previous record's


async def make_account_record(backend: CryptoBackend, *, name: str, root_key: bytes, recovery_key: bytes,
                              version: int, prev: "AccountRecord | None", devices: list[DeviceCert],
                              removed: list[str], created: int, signer_id: str, signer_private,
                              phrase=CARRY, kit: bool | None = None, pq_recovery_key=CARRY) -> AccountRecord:
    """``phrase``: (root key, recovery key[, X-Wing recovery key or None]) of a new phrase, or
    by default the previous record's; ``kit``: by default the previous record's while the
    phrase stays, else False; ``pq_recovery_key``: the first phrase's X-Wing recovery key
    (version 1; by default the previous record's, as it never changes)."""
    if phrase is CARRY:
        phrase = prev.phrase_keys if prev is not None else None
    if phrase is not None:
        phrase = tuple(phrase) + (None,) * (3 - len(phrase))
    if pq_recovery_key is CARRY:
        pq_recovery_key = prev.pq_recovery_key if prev is not None else None
    if kit is None:
        kit = prev is not None and prev.kit and prev.phrase_keys == phrase
    obj = {"meshkit": ACCOUNT_KIND, "v": 1, "id": identity_id(root_key), "name": name, "root_key": root_key,
           "recovery_key": recovery_key, "version": version, "prev": prev.hash if prev else None,
           "devices": [d.map for d in sorted(devices, key=lambda d: d.id)], "removed": sorted(set(removed)),
           "created": created, "signer": signer_id}
    if phrase is not None:  # absent for the first phrase, so older records encode as they always did
        obj["phrase"] = {"root_key": phrase[0], "recovery_key": phrase[1]}
        if phrase[2] is not None:
            obj["phrase"]["pq_recovery_key"] = phrase[2]
    if pq_recovery_key is not None:  # absent for accounts made without one: they stay classic
        obj["pq_recovery_key"] = pq_recovery_key
    if kit:
        obj["kit"] = True
    signed = await sign_map(backend, signer_private, ACCOUNT_KIND, obj)
    follows = prev is not None and version == prev.version + 1  # else a root-signed re-anchor
    return await verify_account_record(backend, codec.encode(signed), prev if follows else None,
                                       None if follows else prev)


async def verify_account_record(backend: CryptoBackend, data: bytes, prev: AccountRecord | None = None,
                                anchor: AccountRecord | None = None) -> AccountRecord:
    """Check one record: shape, ids derived from keys, every device certificate signed by
    the root or a can_add device of this record, and the record's own signature by the root
    or (with ``prev``, the verified previous version) by a can_add device of ``prev``.
    ``anchor``: for a root-signed record that does not follow (a re-anchor), the newest
    record verified before it, whose phrase signs as the root (FORMAT.md 11.7)."""
    record, obj = parse_account_record(data)
    follows = prev is not None and prev.id == record.id and record.version == prev.version + 1 \
        and record.prev == prev.hash
    root_key = _root_key_for(record, prev if follows else None, anchor)
    anchored = prev is None and anchor is not None and anchor.id == record.id  # a re-anchor after ``anchor``
    await _check_certificates(backend, record.id, root_key, list(record.devices),
                              prev if follows else anchor if anchored else None)
    if record.signer == record.id:
        signer_key = root_key
    else:
        if prev is None:
            raise AccountChainError("a record signed by a device needs the previous record to check")
        by = prev.device(record.signer)
        if by is None or not by.can_add:
            raise AccountChainError(f"{record.signer} may not change account {record.id}")
        signer_key = by.device.sig_key
    if prev is not None:
        if prev.id != record.id or record.version != prev.version + 1 or record.prev != prev.hash:
            raise AccountChainError(f"record version {record.version} does not follow version {prev.version}")
        if prev.root_key != record.root_key or prev.recovery_key != record.recovery_key \
                or prev.pq_recovery_key != record.pq_recovery_key:
            raise AccountChainError("an account's root and recovery keys never change")
        if prev.current_pq_recovery_key is not None and record.current_pq_recovery_key is None:
            raise AccountChainError("a new recovery phrase of an account with a post-quantum recovery key "
                                    "needs one too")
        if record.signer != record.id and not set(prev.removed) <= set(record.removed):
            raise AccountChainError("only the account root can bring back a removed device")
        dropped = {d.id for d in prev.devices} - {d.id for d in record.devices}
        if not dropped <= set(record.removed):  # a device leaves the list only by being removed
            raise AccountChainError("a device left the account without being listed as removed")
        if record.signer != record.id:
            _check_carried_over(prev, record)
        _check_kit(prev, record)
    await verify_map(backend, ACCOUNT_KIND, obj, signer_key, record.signer)
    return record


def _root_key_for(record: AccountRecord, prev: AccountRecord | None, anchor: AccountRecord | None) -> bytes:
    """Who signs as the account root: the current phrase of the record before (``prev``, or
    for a re-anchor ``anchor``): a replaced phrase signs nothing any more. Without either, a
    record's own ``root_key``, so only the first phrase's record stands alone: a ``phrase``
    is believed only from a record whose root it follows."""
    if prev is not None:
        return prev.current_root_key
    if anchor is not None and anchor.id == record.id:
        if record.phrase_keys != anchor.phrase_keys:
            raise AccountChainError("only a record that follows the one before it may replace the recovery phrase")
        if record.pq_recovery_key != anchor.pq_recovery_key:  # fixed for the account's life, re-anchored too
            raise AccountChainError("an account's X-Wing recovery key never changes")
        return anchor.current_root_key
    if record.phrase is not None:
        raise AccountChainError("a record with a replaced recovery phrase needs the record before it to check")
    return record.root_key


def _check_kit(prev: AccountRecord, record: AccountRecord) -> None:
    """A new phrase starts unconfirmed; only the phrase's root (someone who typed it) marks
    its kit confirmed, and a device carries the mark over as it was."""
    if record.phrase_keys != prev.phrase_keys:
        if record.kit:
            raise AccountChainError("a new recovery phrase starts with its kit not confirmed")
    elif record.signer != record.id and record.kit != prev.kit:
        raise AccountChainError("only the recovery phrase itself confirms its kit")


def _check_carried_over(prev: AccountRecord, record: AccountRecord) -> None:
    """A device-signed record keeps every certificate of ``prev`` it still lists byte for
    byte: only the account root re-certifies a device. So each device's certificate (and
    its ``signer``, who added it) is the first one the chain gave it, and a stolen device
    cannot make the devices it added vouch for each other to escape ``added_through``."""
    before = {d.id: d.map for d in prev.devices}
    for cert in record.devices:
        if cert.id in before and before[cert.id] != cert.map:
            raise AccountChainError(f"only the account root may re-certify device {cert.id}")


def parse_account_record(data: bytes) -> tuple[AccountRecord, dict]:
    """The structure of a record, without checking any signature: for records this party
    verified itself before (its own store), and as verify_account_record's first step."""
    obj = codec.decode_map(data, ACCOUNT_KIND)
    codec.check_type(obj, ACCOUNT_KIND)
    root_key = codec.field(obj, "root_key", bytes, ACCOUNT_KIND, length=KEY_LEN)
    recovery_key = codec.field(obj, "recovery_key", bytes, ACCOUNT_KIND, length=KEY_LEN)
    ident = codec.field(obj, "id", str, ACCOUNT_KIND)
    check_identity_key(ident, root_key)
    name = name_field(obj, ACCOUNT_KIND)
    version = codec.field(obj, "version", int, ACCOUNT_KIND)
    prev_hash = codec.field(obj, "prev", bytes, ACCOUNT_KIND, length=32, optional=True)
    if version < 1 or (version == 1) != (prev_hash is None):
        raise EnvelopeFormatError("version 1 has no previous record; every later version names one")
    raw_devices = codec.field(obj, "devices", list, ACCOUNT_KIND)
    removed = codec.field(obj, "removed", list, ACCOUNT_KIND)
    if not 1 <= len(raw_devices) <= MAX_DEVICES or len(removed) > MAX_REMOVED:
        raise EnvelopeFormatError(f"an account has 1..{MAX_DEVICES} devices and at most {MAX_REMOVED} removed")
    if not all(is_identity_id(r) for r in removed) or removed != sorted(set(removed)):
        raise EnvelopeFormatError("removed devices are distinct ids in ascending order")
    devices = [_device(d) for d in raw_devices]
    ids = [d.id for d in devices]
    if ids != sorted(set(ids)) or set(ids) & set(removed):
        raise EnvelopeFormatError("devices are distinct, in ascending id order, and not removed")
    signer = codec.field(obj, "signer", str, ACCOUNT_KIND)
    phrase = _phrase_field(obj, root_key, recovery_key)
    kit = obj.get("kit", False)
    if "kit" in obj and kit is not True:  # written only when true: one encoding per record
        raise EnvelopeFormatError("account field 'kit' is true or absent")
    record = AccountRecord(ident, name, root_key, recovery_key, version, prev_hash, tuple(devices), tuple(removed),
                           codec.field(obj, "created", int, ACCOUNT_KIND), signer, data,
                           *(phrase or (None, None, None))[:2], kit,
                           pq_key_field(obj, ACCOUNT_KIND, "pq_recovery_key"), (phrase or (None, None, None))[2])
    return record, obj


def _phrase_field(obj: dict, root_key: bytes, recovery_key: bytes) -> tuple | None:
    """(root key, recovery key, X-Wing recovery key or None) of a replaced phrase, or None."""
    phrase = obj.get("phrase")
    if phrase is None and "phrase" not in obj:
        return None
    if not isinstance(phrase, dict) or not {"root_key", "recovery_key"} <= set(phrase) \
            or not set(phrase) <= {"root_key", "recovery_key", "pq_recovery_key"}:
        raise EnvelopeFormatError("account field 'phrase' is {root_key, recovery_key[, pq_recovery_key]}")
    keys = (codec.field(phrase, "root_key", bytes, ACCOUNT_KIND, length=KEY_LEN),
            codec.field(phrase, "recovery_key", bytes, ACCOUNT_KIND, length=KEY_LEN),
            pq_key_field(phrase, ACCOUNT_KIND, "pq_recovery_key"))
    if keys[0] == root_key or keys[1] == recovery_key or (keys[2] and keys[2] == obj.get("pq_recovery_key")):
        raise EnvelopeFormatError("a replaced phrase has keys of its own")
    return keys


async def _check_certificates(backend, account: str, root_key: bytes, devices: list[DeviceCert],
                              prev: "AccountRecord | None" = None) -> None:
    """Every certificate names this account and is signed by the root or by a can_add device
    whose own certificate already checked out (so a chain of additions always ends at the
    root; a certificate signed by any other key never becomes ready). A certificate carried
    over unchanged from ``prev`` (the verified previous version) was checked then, and
    stays good when the device that signed it is removed later (as a signature made before
    a revocation does): otherwise removing the device that added another would cut the
    other off too."""
    trusted: dict[str, bytes] = {account: root_key}
    carried = {d.id: d.map for d in prev.devices} if prev is not None else {}
    pending = []
    for cert in devices:
        if carried.get(cert.id) == cert.map:
            if cert.can_add:
                trusted[cert.id] = cert.device.sig_key
        else:
            pending.append(cert)
    while pending:
        ready = [d for d in pending if d.signer in trusted]
        if not ready:
            raise AccountChainError("a device certificate is not signed through the account's root")
        for cert in ready:
            if cert.account != account:
                raise AccountChainError(f"device {cert.id} is certified for another account")
            await verify_map(backend, DEVICE_KIND, cert.map, trusted[cert.signer], cert.signer)
            await verify_map(backend, CONSENT_KIND, {**_consent_map(account, cert.id, cert.device.pq_key),
                                                     "sig": cert.consent},
                             cert.device.sig_key, cert.id)
            if cert.can_add:  # only the root and can_add devices sign certificates
                trusted[cert.id] = cert.device.sig_key
            pending.remove(cert)


async def verify_chain(backend: CryptoBackend, records: list[bytes], known: AccountRecord | None = None,
                       account_id: str | None = None, certified: set | None = None) -> AccountRecord:
    """The newest record of ``records`` (ascending versions) after checking each follows the
    one before. ``known``: the newest version this client verified before; the chain must
    start right after it (or at a root-signed record), and may never go below it.
    ``certified``: if given, gains the id of every device a checked record certified (so a
    device in a removed list can be told from an id merely written there)."""
    if not records:
        raise AccountChainError("no account record")
    current = known
    for data in records[:MAX_CHAIN]:
        offered = codec.decode_map(data, ACCOUNT_KIND).get("version")
        if current is not None and isinstance(offered, int) and offered <= current.version:
            if offered == current.version and data == current.data:
                continue  # the one already verified
            raise AccountRollbackError(f"account {current.id} is at version {current.version}: refusing "
                                       f"version {offered}")
        try:
            record = await verify_account_record(backend, data, current)
        except AccountChainError:
            # a root-signed record stands on its own (recovery re-anchors the chain)
            record = await verify_account_record(backend, data, None, current)
            if record.signer != record.id:
                raise
        expected = account_id or (known.id if known is not None else None)
        if expected is not None and record.id != expected:  # a root-signed record of another account
            raise AccountChainError(f"the records are of {record.id}, not {expected}")
        current = record
        if certified is not None:
            certified.update(d.id for d in record.devices)
    return current  # every record above is newer than ``known`` (older ones were refused)


def check_not_older(known: AccountRecord | None, offered: AccountRecord) -> None:
    """Refuse a record older than the newest verified one, or a different one of the same version."""
    if known is None:
        return
    if offered.version < known.version or (offered.version == known.version and offered.data != known.data):
        raise AccountRollbackError(f"account {known.id} is at version {known.version}: refusing version "
                                   f"{offered.version}")



# --- other people's accounts, as a sender knows them ------------------------------------------

@dataclass(frozen=True)
class KnownAccount:
    """An account this client verified, kept so that it is never rolled back, with every
    device any verified version certified: a device since removed still means this account
    (a seal to it reaches the account's current devices), while an id merely written into a
    removed list by someone else never does."""
    record: AccountRecord
    certified: frozenset

    def means(self, ident: str) -> bool:
        return ident == self.record.id or ident in self.certified

    def to_bytes(self) -> bytes:
        return codec.encode({"record": self.record.data, "certified": sorted(self.certified)})


def known_account_from_bytes(data: bytes) -> KnownAccount:
    """What a store kept (it was verified before it was kept; parsed again, not re-verified)."""
    obj = codec.decode_map(data, "kept account")
    record = codec.field(obj, "record", bytes, "kept account")
    certified = codec.field(obj, "certified", list, "kept account")
    if len(certified) > MAX_DEVICES + MAX_REMOVED or not all(is_identity_id(c) for c in certified):
        raise EnvelopeFormatError("not a kept account")
    return KnownAccount(parse_account_record(record)[0], frozenset(certified))
