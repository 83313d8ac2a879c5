"""Canonical DAG-CBOR and small encoding helpers shared by the Core objects."""

import base64
import binascii

import dag_cbor

from .errors import EnvelopeFormatError, UnsupportedVersionError


# Every integer field (times, sizes, versions, counts) is in 0..2^53-1: exact in JavaScript,
# in a database BIGINT and in every CBOR library; larger or negative values are malformed.
MAX_INT = (1 << 53) - 1
MAX_TEXT = 512  # text fields (names, ids, policy references); longer ones are malformed


def encode(obj) -> bytes:
    return dag_cbor.encode(obj)


def decode_map(data: bytes, kind: str) -> dict:
    """Decode a canonical DAG-CBOR map; re-encoding must give the same bytes."""
    try:
        obj = dag_cbor.decode(data)
    except Exception as exc:
        raise EnvelopeFormatError(f"{kind} is not valid DAG-CBOR") from exc
    if not isinstance(obj, dict):
        raise EnvelopeFormatError(f"{kind} is not a map")
    if dag_cbor.encode(obj) != data:
        raise EnvelopeFormatError(f"{kind} is not canonical DAG-CBOR")
    return obj


def check_type(obj: dict, kind: str, version: int = 1) -> None:
    if obj.get("meshkit") != kind:
        raise EnvelopeFormatError(f"not a MeshKit {kind}")
    found = obj.get("v")
    if type(found) is not int or found != version:  # 1.0 and True are not version 1
        raise UnsupportedVersionError(f"{kind} version {found!r} is not supported (need {version})")


def only_keys(obj: dict, allowed: set, kind: str) -> None:
    """Objects whose extra keys nobody reads are refused: extra signed bytes are a free
    channel for padding and for smuggling data past a reader."""
    extra = set(obj) - allowed
    if extra:
        raise EnvelopeFormatError(f"{kind} has unknown keys ({len(extra)})")


def field(obj: dict, name: str, typ, kind: str, *, length: int | None = None, optional=False):
    """Read one typed field, raising EnvelopeFormatError naming the field (never its value)."""
    if name not in obj:
        if optional:
            return None
        raise EnvelopeFormatError(f"{kind} lacks field {name!r}")
    value = obj[name]
    if value is None and optional:
        return None
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise EnvelopeFormatError(f"{kind} field {name!r} has the wrong type")
    if length is not None and len(value) != length:
        raise EnvelopeFormatError(f"{kind} field {name!r} has the wrong length")
    if typ is int and not 0 <= value <= MAX_INT:
        raise EnvelopeFormatError(f"{kind} field {name!r} is out of range (0..2^53-1)")
    if typ is str and len(value) > MAX_TEXT:
        raise EnvelopeFormatError(f"{kind} field {name!r} is longer than {MAX_TEXT} characters")
    return value


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64d(text: str) -> bytes:
    """Strict unpadded base64url: other alphabets, padding and non-canonical tails are refused."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise EnvelopeFormatError("bad base64url field") from exc
    if b64e(data) != text:
        raise EnvelopeFormatError("bad base64url field (not canonical)")
    return data
