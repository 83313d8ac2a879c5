"""Send links (FORMAT.md 5.4): a file for someone who has no MeshKit account yet.

The link is ``#send=<root CID>.<secret>[.<describe key>]``, the secret 32 random bytes in
base64url (the describe key: the envelope's metadata key, which tells what the file is and
opens nothing, so describing a link never spends one of its opens). From the
secret both sides derive the same throwaway identity (Ed25519 and X25519 keys, and where
the runtime can make X-Wing keys an X-Wing key too, so a send link is post-quantum; HKDF with
the labels below). The sender shares the envelope with that identity, as with any person
(a capsule the gateway releases only while not revoked or expired, and at most ``opens``
times); whoever holds the link derives the keys, signs in as that identity and opens the
envelope. The secret lives only in the URL fragment, which browsers never send to a
server: the gateway stores the identity's public record and the capsule, never the key.
Pure: no I/O.
"""

import base64
import re
from dataclasses import dataclass

from . import kdf
from .cid import cid_str, parse_cid
from .errors import EnvelopeFormatError, InvalidArgumentError
from .identity import Identity, make_identity
from .urls import app_link_value

PREFIX = "send="
SECRET_LEN = 32
SALT = b"meshkit-web/v1 send-link"
SIG_INFO = b"meshkit-web/v1 send-link signing key"
ENC_INFO = b"meshkit-web/v1 send-link encryption key"
PQ_INFO = b"meshkit-web/v1 send-link pq key"  # the X-Wing seed
LINK_NAME = "send-link"  # the throwaway identity's name in the directory (it has no person)
MAX_LINK = 1024
MAX_OPENS = 1000  # the largest limit a share's opens may have (a send link's "download limit")


def check_opens(opens) -> int | None:
    """A send link's limit on its opens: None (no limit) or a whole number 1..MAX_OPENS."""
    if opens is None:
        return None
    if isinstance(opens, bool) or not isinstance(opens, int) or not 1 <= opens <= MAX_OPENS:
        from .errors import InvalidArgumentError
        raise InvalidArgumentError(f"opens is a whole number from 1 to {MAX_OPENS} (or None: no limit)")
    return opens
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class SendLink:
    root: bytes
    secret: bytes
    describe_key: bytes | None  # the envelope's metadata key (core.metadata): describes, opens nothing


def send_fragment(root: bytes, secret: bytes, describe_key: bytes | None = None) -> str:
    """The URL fragment (without '#') of a send link; with ``describe_key`` (the envelope's
    metadata key) its holder can learn what the file is without spending one of its opens."""
    if len(secret) != SECRET_LEN or (describe_key is not None and len(describe_key) != SECRET_LEN):
        raise InvalidArgumentError("a send-link secret (and its describe key) is 32 bytes")
    parts = [cid_str(root), _b64(secret)] + ([_b64(describe_key)] if describe_key is not None else [])
    return PREFIX + ".".join(parts)


def read_send_link(text: str) -> SendLink:
    """The parts of a send link or its fragment; InvalidArgumentError otherwise."""
    root_text, *keys = app_link_value(text, PREFIX, MAX_LINK, "send").split(".")
    if len(keys) not in (1, 2) or not all(_SECRET.match(key) for key in keys):
        raise InvalidArgumentError("that send link is damaged: check it was copied whole")
    try:
        root = parse_cid(root_text)
    except EnvelopeFormatError:
        raise InvalidArgumentError("that send link is damaged: check it was copied whole") from None
    return SendLink(root, _unb64(keys[0]), _unb64(keys[1]) if len(keys) == 2 else None)


def parse_send_link(text: str) -> tuple[bytes, bytes]:
    """(root, secret) from a send link or its fragment; InvalidArgumentError otherwise."""
    link = read_send_link(text)
    return link.root, link.secret


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=")


async def link_identity(backend, secret: bytes, *, pq: bool | None = None) -> Identity:
    """The throwaway identity a send link's secret stands for (the same on both sides): with
    its X-Wing key where the backend can make one (``pq`` None), or as asked. A sender
    and a holder whose runtimes differ make two records of one id: the holder opens an X-Wing
    entry only with the key, so a sender without X-Wing keys publishes the classic record."""
    if len(secret) != SECRET_LEN:
        raise InvalidArgumentError("a send-link secret is 32 bytes")
    sig_private, sig_key = await backend.ed25519_import_private(kdf.hkdf(secret, SIG_INFO, 32, salt=SALT))
    enc_private, enc_key = await backend.x25519_import_private(kdf.hkdf(secret, ENC_INFO, 32, salt=SALT))
    pq_private = pq_key = None
    if pq or (pq is None and backend.pq_support()["seed"]):
        pq_private, pq_key = await backend.xwing_import_seed(kdf.hkdf(secret, PQ_INFO, 32, salt=SALT))
    return await make_identity(backend, LINK_NAME, 0, sig_private, sig_key, enc_private, enc_key,
                               pq_private=pq_private, pq_key=pq_key)
