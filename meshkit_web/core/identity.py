"""Identities: an id, an Ed25519 signing key, an X25519 encryption key, where the runtime can
hold one an X-Wing (ML-KEM-768 + X25519) encryption key too, and a self-signed record."""

import base64
import hashlib
import unicodedata
from dataclasses import dataclass

from . import codec
from .backend import CryptoBackend, SecretHandle
from .errors import EnvelopeFormatError, InvalidArgumentError
from .hpke import KEM_X25519_SHA256, KEM_XWING, XWING_PUBLIC_LEN, xwing_public_checks
from .signing import KEY_LEN, check_identity_key, identity_id, looks_like_id, sign_map, verify_map

KIND = "identity"
MAX_NAME_LEN = 128
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class PublicIdentity:
    """A verified, self-signed public record. Construct with :func:`verify_record`."""

    id: str
    name: str
    sig_key: bytes
    enc_key: bytes
    created: int
    sig: bytes
    pq_key: bytes | None = None  # X-Wing public key (1216 bytes), when the identity has one

    @property
    def kem(self) -> int:
        """The strongest HPKE KEM this recipient can open (FORMAT.md 3.4)."""
        return KEM_XWING if self.pq_key else KEM_X25519_SHA256

    @property
    def fingerprint(self) -> str:
        """What two people compare to verify a contact: 32 base32 characters in groups of 4.
        It covers every public key, the X-Wing one too."""
        keys = self.sig_key + self.enc_key + (self.pq_key or b"")
        digest = hashlib.sha256(b"meshkit-web/v1 fingerprint\x00" + keys).digest()[:20]
        text = base64.b32encode(digest).decode("ascii")
        return "-".join(text[i:i + 4] for i in range(0, len(text), 4))

    def to_map(self) -> dict:
        record = {"meshkit": KIND, "v": 1, "id": self.id, "name": self.name, "sig_key": self.sig_key,
                  "enc_key": self.enc_key, "created": self.created, "sig": self.sig}
        if self.pq_key:
            record["pq_key"] = self.pq_key
        return record

    def to_bytes(self) -> bytes:
        return codec.encode(self.to_map())

    def to_json(self) -> dict:
        """JSON form of the record: byte fields as base64url. Holds no private material."""
        obj = {"meshkit": KIND, "v": 1, "id": self.id, "name": self.name,
               "sig_key": codec.b64e(self.sig_key), "enc_key": codec.b64e(self.enc_key),
               "created": self.created, "sig": codec.b64e(self.sig),
               "fingerprint": self.fingerprint}
        if self.pq_key:
            obj["pq_key"] = codec.b64e(self.pq_key)
        return obj


@dataclass
class Identity:
    """A private identity: the public record plus key handles (never printed)."""

    public: PublicIdentity
    sig_private: SecretHandle
    enc_private: SecretHandle
    pq_private: SecretHandle | None = None  # the X-Wing key, when the record has pq_key

    @property
    def id(self) -> str:
        return self.public.id

    @property
    def name(self) -> str:
        return self.public.name

    def __repr__(self) -> str:
        return f"<Identity {self.public.name!r} {self.public.id}>"


def check_name(name: str) -> None:
    """The name rules of an identity (and of a device in an account, and of an account):
    invalid_argument when ``name`` breaks one."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LEN or any(c in name for c in "/\\\x00"):
        raise InvalidArgumentError("identity name must be 1-128 characters without slashes")
    # control, format (zero-width, bidi), private-use and unassigned characters: invisible or
    # misleading when shown, so never part of a name
    if any(unicodedata.category(c)[0] == "C" or c in _BIDI_CONTROLS for c in name):
        raise InvalidArgumentError("identity name must not contain control, format or invisible characters")
    if looks_like_id(name):  # a name that reads as an id could pose as another identity
        raise InvalidArgumentError("identity name must not look like an identity id")


def name_field(obj: dict, kind: str) -> str:
    """A record's ``name``, checked by the name rules (malformed otherwise)."""
    name = codec.field(obj, "name", str, kind)
    try:
        check_name(name)
    except InvalidArgumentError as exc:
        raise EnvelopeFormatError(f"{kind} record has an invalid name: {exc.message}") from None
    return name


async def create_identity(backend: CryptoBackend, name: str, now: int, *, pq: bool | None = None) -> Identity:
    """A new identity; with an X-Wing key unless ``pq`` is False or the backend cannot hold
    one (``pq=True`` there is unsupported, never a classic identity passed off as hybrid)."""
    check_name(name)
    sig_private, sig_key = await backend.ed25519_generate()
    enc_private, enc_key = await backend.x25519_generate()
    pq_private = pq_key = None
    if pq or (pq is None and backend.pq_support()["keys"]):
        pq_private, pq_key = await backend.xwing_generate()
    return await make_identity(backend, name, now, sig_private, sig_key, enc_private, enc_key,
                               pq_private=pq_private, pq_key=pq_key)


async def make_identity(backend, name, created, sig_private, sig_key, enc_private, enc_key, *,
                        pq_private: SecretHandle | None = None, pq_key: bytes | None = None) -> Identity:
    record = {"meshkit": KIND, "v": 1, "id": identity_id(sig_key), "name": name, "sig_key": sig_key,
              "enc_key": enc_key, "created": created}
    if pq_key:
        record["pq_key"] = pq_key
    signed = await sign_map(backend, sig_private, KIND, record)
    public = PublicIdentity(**{k: signed[k] for k in ("id", "name", "sig_key", "enc_key", "created", "sig")},
                            pq_key=pq_key)
    return Identity(public, sig_private, enc_private, pq_private)


def pq_key_field(obj: dict, kind: str, name: str = "pq_key") -> bytes | None:
    """An optional X-Wing public key: absent, or exactly 1216 bytes whose ML-KEM-768 part passes
    FIPS 203's check (malformed otherwise, an explicit null too: one encoding per record)."""
    if name not in obj:
        return None
    key = codec.field(obj, name, bytes, kind, length=XWING_PUBLIC_LEN)
    if not xwing_public_checks(bytes(key)):
        raise EnvelopeFormatError(f"{kind} field {name!r} is no X-Wing public key (its ML-KEM-768 part fails "
                                  "FIPS 203's encapsulation key check)")
    return key


async def verify_record(backend: CryptoBackend, record: dict) -> PublicIdentity:
    """Check a decoded record: type, version, fields, id derived from key, self-signature."""
    codec.check_type(record, KIND)
    ident = codec.field(record, "id", str, KIND)
    sig_key = codec.field(record, "sig_key", bytes, KIND, length=KEY_LEN)
    check_identity_key(ident, sig_key)
    enc_key = codec.field(record, "enc_key", bytes, KIND, length=KEY_LEN)
    name = name_field(record, KIND)
    created = codec.field(record, "created", int, KIND)
    pq_key = pq_key_field(record, KIND)
    await verify_map(backend, KIND, record, sig_key, ident)
    return PublicIdentity(ident, name, sig_key, enc_key, created, record["sig"], pq_key)


async def record_from_bytes(backend: CryptoBackend, data: bytes) -> PublicIdentity:
    return await verify_record(backend, codec.decode_map(data, KIND))


async def record_from_json(backend: CryptoBackend, obj: dict) -> PublicIdentity:
    if not isinstance(obj, dict):
        raise EnvelopeFormatError("identity record JSON is not an object")
    record = {k: obj.get(k) for k in ("meshkit", "v", "id", "name", "created")}
    for key in ("sig_key", "enc_key", "sig"):
        value = obj.get(key)
        if not isinstance(value, str):
            raise EnvelopeFormatError(f"identity record lacks field {key!r}")
        record[key] = codec.b64d(value)
    if "pq_key" in obj:
        if not isinstance(obj["pq_key"], str):
            raise EnvelopeFormatError("identity record field 'pq_key' is not base64url text")
        record["pq_key"] = codec.b64d(obj["pq_key"])
    return await verify_record(backend, record)
