"""HKDF-SHA256 (RFC 5869) on the standard library's HMAC."""

import hashlib
import hmac

from .errors import InvalidArgumentError

HASH_LEN = 32


def extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * HASH_LEN, ikm, hashlib.sha256).digest()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    if length > 255 * HASH_LEN:
        raise InvalidArgumentError("HKDF output too long")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def hkdf(ikm: bytes, info: bytes, length: int = HASH_LEN, salt: bytes = b"") -> bytes:
    return expand(extract(salt, ikm), info, length)
