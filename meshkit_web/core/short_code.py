"""A short code for a device link (FORMAT.md 11.5.1): 10 Crockford base32 characters (50
bits) that a person types on the approving device instead of the ~100-character link.

The code derives, by HKDF-SHA256, a lookup id (where the gateway keeps the sealed link) and
an AES-256-GCM key that seals the link text. The gateway sees only the lookup id and
ciphertext. Pure: no I/O; the code exists only inside the calls that use it.
"""

from . import codec, kdf
from .backend import CryptoBackend
from .errors import InvalidArgumentError, LinkError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LEN = 10           # characters: 50 bits
CODE_RANDOM = 7         # random bytes drawn; their first 50 bits are the code
HKDF_SALT = b"meshkit-web/v1 link-short-code"
LOOKUP_INFO = b"meshkit-web/v1 link-short-code-lookup"
KEY_INFO = b"meshkit-web/v1 link-short-code-key"
AAD_PREFIX = b"meshkit-web/v1 link-short-code\x00"
VERSION = 1
LOOKUP_LEN = 16         # bytes; base64url: 22 characters
NONCE_LEN = 12
MAX_SEALED = 1024       # bytes the gateway keeps per code
LINK_WAIT = 120.0       # seconds either side of a link waits; a code lives as long at the gateway
_TYPED = str.maketrans({"I": "1", "L": "1", "O": "0"})


def code_from_random(raw: bytes) -> str:
    """The canonical code (10 characters, no dash) of the first 50 bits of ``raw``."""
    if len(raw) < CODE_RANDOM:
        raise InvalidArgumentError("a short code takes 7 random bytes")
    number = int.from_bytes(raw[:CODE_RANDOM], "big") >> (8 * CODE_RANDOM - 5 * CODE_LEN)
    return "".join(ALPHABET[(number >> (5 * (CODE_LEN - 1 - i))) & 31] for i in range(CODE_LEN))


def grouped(code: str) -> str:
    """How a code is shown: ``XXXXX-XXXXX``."""
    return f"{code[:5]}-{code[5:]}"


def parse_code(text) -> str | None:
    """The canonical code ``text`` is (case, spaces and dashes ignored; I and L read as 1, O
    as 0), or None when it is not one."""
    raw = "".join(str(text).split()).replace("-", "").upper().translate(_TYPED)
    if len(raw) != CODE_LEN or any(c not in ALPHABET for c in raw):
        return None
    return raw


def code_keys(code: str) -> tuple[str, bytes]:
    """(the lookup id, base64url of 16 bytes; the 32-byte sealing key) of a canonical code."""
    ikm = code.encode("ascii")
    lookup = codec.b64e(kdf.hkdf(ikm, LOOKUP_INFO, LOOKUP_LEN, salt=HKDF_SALT))
    return lookup, kdf.hkdf(ikm, KEY_INFO, 32, salt=HKDF_SALT)


def aad(lookup: str) -> bytes:
    """Binds a sealed link to its lookup id and this format's version."""
    return AAD_PREFIX + lookup.encode("ascii") + b"\x00" + bytes([VERSION])


async def seal_link(backend: CryptoBackend, code: str, link: str) -> tuple[str, bytes]:
    """(lookup id, sealed value) for ``link`` under ``code``: version byte || nonce || AES-256-GCM."""
    lookup, key = code_keys(code)
    nonce = await backend.random_bytes(NONCE_LEN)
    sealed = await backend.aead_seal(await backend.aead_key(key), nonce, link.encode(), aad(lookup))
    return lookup, bytes([VERSION]) + bytes(nonce) + bytes(sealed)


async def open_link(backend: CryptoBackend, code: str, data: bytes) -> str:
    """The link text sealed under ``code``; LinkError when it does not open (another code's,
    altered, or not a sealed link at all)."""
    lookup, key = code_keys(code)
    if not 1 + NONCE_LEN + 16 <= len(data) <= MAX_SEALED or data[0] != VERSION:
        raise LinkError("the gateway's answer for that code is not a sealed device link")
    opened = await backend.aead_open(await backend.aead_key(key), data[1:1 + NONCE_LEN], data[1 + NONCE_LEN:],
                                     aad(lookup))
    if opened is None:
        raise LinkError("the gateway's answer for that code does not open: it was altered or is another code's")
    try:
        return bytes(opened).decode()
    except UnicodeDecodeError:
        raise LinkError("the gateway's answer for that code is not a device link") from None
