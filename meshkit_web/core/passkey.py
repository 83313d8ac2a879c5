"""A passkey as a second way to recover an account (FORMAT.md 11.8).

A WebAuthn PRF output (32 bytes, from the passkey, evaluated on the fixed salt PRF_SALT)
derives, by HKDF, a key that wraps the account's recovery secret (AES-256-GCM) and a lookup
id under which the gateway keeps the wrap. Whoever holds the passkey (and its user
verification) gets the PRF output again on any browser, so recovering needs no words.

Pure: no I/O, no WebAuthn (the page calls it; only the PRF output reaches Core). The PRF
output and the keys derived from it exist only inside one call: never stored or logged.
"""

from dataclasses import dataclass

from . import codec, kdf
from .backend import CryptoBackend
from .errors import EnvelopeFormatError, InvalidArgumentError, PasskeyError
from .signing import is_identity_id

WRAP_KIND = "passkey-wrap"
PRF_SALT = b"meshkit-web/v1 passkey-prf"  # prf.eval.first, the same for every account and passkey
PRF_LEN = 32
HKDF_SALT = b"meshkit-web/v1 passkey"
WRAP_INFO = b"meshkit-web/v1 passkey-wrap-key"
LOOKUP_INFO = b"meshkit-web/v1 passkey-lookup"
AAD_PREFIX = b"meshkit-web/v1 passkey-wrap\x00"
LOOKUP_LEN = 16
NONCE_LEN = 12
MAX_CREDENTIAL_ID = 1023  # WebAuthn: a credential id is at most 1023 bytes
MAX_WRAP = 2048           # the gateway refuses larger wraps (one is about 1.2 KiB at most)
SECRET_LEN = 32


def lookup_text(prf: bytes) -> str:
    """The id the gateway keeps a wrap under: base64url of 16 HKDF bytes (22 characters).
    Only the PRF output gives it, so nobody can ask for a wrap without the passkey."""
    return codec.b64e(kdf.hkdf(_prf(prf), LOOKUP_INFO, LOOKUP_LEN, salt=HKDF_SALT))


def _prf(prf) -> bytes:
    if not isinstance(prf, (bytes, bytearray)) or len(prf) != PRF_LEN:
        raise InvalidArgumentError("a passkey's PRF output is 32 bytes")
    return bytes(prf)


def _credential(credential) -> bytes:
    if not isinstance(credential, (bytes, bytearray)) or not 1 <= len(credential) <= MAX_CREDENTIAL_ID:
        raise InvalidArgumentError(f"a credential id is 1..{MAX_CREDENTIAL_ID} bytes")
    return bytes(credential)


def aad(account: str, credential: bytes) -> bytes:
    """Binds a wrap to its account and its passkey: a wrap moved to another account or
    credential, or to another format version, does not open."""
    return AAD_PREFIX + account.encode("ascii") + b"\x00" + credential


async def _wrap_key(backend: CryptoBackend, prf: bytes):
    return await backend.aead_key(kdf.hkdf(_prf(prf), WRAP_INFO, 32, salt=HKDF_SALT))


@dataclass(frozen=True)
class PasskeyWrap:
    account: str
    credential: bytes
    created: int
    data: bytes  # the canonical DAG-CBOR map, as stored at the gateway


async def wrap_secret(backend: CryptoBackend, prf: bytes, *, account: str, credential: bytes, secret: bytes,
                      created: int) -> PasskeyWrap:
    """The recovery ``secret`` wrapped under the key ``prf`` derives."""
    if len(secret) != SECRET_LEN or not is_identity_id(account):
        raise InvalidArgumentError("a passkey wraps an account's 32-byte recovery secret")
    credential = _credential(credential)
    nonce = await backend.random_bytes(NONCE_LEN)
    sealed = await backend.aead_seal(await _wrap_key(backend, prf), nonce, secret, aad(account, credential))
    data = codec.encode({"meshkit": WRAP_KIND, "v": 1, "account": account, "credential": credential,
                         "created": created, "nonce": bytes(nonce), "wrapped": bytes(sealed)})
    return PasskeyWrap(account, credential, created, data)


def parse_wrap(data: bytes) -> PasskeyWrap:
    """The fields of a wrap (nothing is opened): malformed for anything else."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_WRAP:
        raise EnvelopeFormatError(f"a passkey wrap is at most {MAX_WRAP} bytes")
    obj = codec.decode_map(bytes(data), WRAP_KIND)
    codec.check_type(obj, WRAP_KIND)
    codec.only_keys(obj, {"meshkit", "v", "account", "credential", "created", "nonce", "wrapped"}, WRAP_KIND)
    account = codec.field(obj, "account", str, WRAP_KIND)
    credential = codec.field(obj, "credential", bytes, WRAP_KIND)
    codec.field(obj, "nonce", bytes, WRAP_KIND, length=NONCE_LEN)
    codec.field(obj, "wrapped", bytes, WRAP_KIND, length=SECRET_LEN + 16)
    if not is_identity_id(account) or not 1 <= len(credential) <= MAX_CREDENTIAL_ID:
        raise EnvelopeFormatError("a passkey wrap names an account id and a credential id")
    return PasskeyWrap(account, credential, codec.field(obj, "created", int, WRAP_KIND), bytes(data))


async def unwrap_secret(backend: CryptoBackend, prf: bytes, credential: bytes, data: bytes) -> tuple[str, bytes]:
    """(the account, its recovery secret) from a wrap the gateway returned, for the passkey
    that gave ``prf`` and ``credential``. A wrap that is malformed, for another passkey, or
    altered anywhere is PasskeyError: nothing is returned."""
    try:
        wrap = parse_wrap(data)
    except EnvelopeFormatError:
        raise PasskeyError("the gateway's passkey recovery record is malformed") from None
    credential = _credential(credential)
    if wrap.credential != credential:
        raise PasskeyError("the gateway returned the recovery record of another passkey")
    obj = codec.decode_map(wrap.data, WRAP_KIND)
    secret = await backend.aead_open(await _wrap_key(backend, prf), obj["nonce"], obj["wrapped"],
                                     aad(wrap.account, credential))
    if secret is None or len(secret) != SECRET_LEN:
        raise PasskeyError("the passkey's recovery record does not open: it was altered or is not this passkey's")
    return wrap.account, bytes(secret)
