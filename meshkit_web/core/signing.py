"""Ed25519 signatures over canonical DAG-CBOR maps, with domain separation per object kind.

The signed bytes are ``"meshkit-web/v1 <kind>" || 0x00 || dag-cbor(map without "sig")``,
so a signature over one kind of object can never be replayed as another.
"""

import base64
import hashlib
import re
import unicodedata

from . import codec
from .backend import CryptoBackend, SecretHandle
from .errors import IdentityMismatchError, SignatureError

SIG_LEN = 64
KEY_LEN = 32


def signing_input(kind: str, obj: dict) -> bytes:
    unsigned = {k: v for k, v in obj.items() if k != "sig"}
    return f"meshkit-web/v1 {kind}".encode() + b"\x00" + codec.encode(unsigned)


async def sign_map(backend: CryptoBackend, private: SecretHandle, kind: str, obj: dict) -> dict:
    signature = await backend.ed25519_sign(private, signing_input(kind, obj))
    return {**obj, "sig": signature}


async def verify_map(backend: CryptoBackend, kind: str, obj: dict, public: bytes, who: str) -> None:
    signature = obj.get("sig")
    if not isinstance(signature, bytes) or len(signature) != SIG_LEN:
        raise SignatureError(f"{kind} from {who} has no valid signature field")
    if not await backend.ed25519_verify(public, signing_input(kind, obj), signature):
        raise SignatureError(f"{kind} signature by {who} does not verify")


def identity_id(sig_key: bytes) -> str:
    """Self-certifying id: derived from the Ed25519 key, so id/key mismatch is detectable offline."""
    digest = hashlib.sha256(b"meshkit-web/v1 identity-id\x00" + sig_key).digest()[:20]
    return "mk" + base64.b32encode(digest).decode("ascii").lower()


ID_PATTERN = re.compile(r"mk[a-z2-7]{32}")
# An id is 34 unbroken letters and digits. A name that, once folded (NFKC, lower case,
# invisible characters removed), holds a run of 24 or more unbroken word characters in
# ANY script could be made to read as an id (zero-width joins, look-alike letters): refused.
_LONG_TOKEN = re.compile(r"\w{24,}")


def is_identity_id(text) -> bool:
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


def fold(text: str) -> str:
    """What a person sees: NFKC, lower case, and no invisible (format, control) characters."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in folded if unicodedata.category(c)[0] != "C")


def looks_like_id(name) -> bool:
    return isinstance(name, str) and _LONG_TOKEN.search(fold(name)) is not None


def check_identity_key(ident: str, sig_key: bytes) -> None:
    if not isinstance(sig_key, bytes) or len(sig_key) != KEY_LEN or identity_id(sig_key) != ident:
        raise IdentityMismatchError(f"identity id {ident!s:.40} does not match its signing key")
