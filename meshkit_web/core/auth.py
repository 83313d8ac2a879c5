"""What a client signs to prove possession of its identity key to a gateway.

The gateway hands out a short-lived challenge (opaque text); the client signs

    "meshkit-web/v2 auth" || 0x00 || origin || 0x00 || challenge

with its Ed25519 key, where ``origin`` is ``canonical_url`` of the base URL the CLIENT chose
to talk to, never a value the gateway supplied. The gateway checks it against its own
public URL(s). So a malicious gateway that relays an honest gateway's challenge gets a
signature over its own URL, which the honest gateway refuses: a login answered for one
gateway is useless at another.
"""

from urllib.parse import urlsplit

from .errors import InvalidArgumentError

AUTH_DOMAIN = b"meshkit-web/v2 auth\x00"
# what a capability token may be good for (a client asks for some, the gateway grants only these)
SCOPES = ("blocks:write", "pins", "mailbox", "capsules", "proofs", "sync", "audit")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """``scheme://host[:port][/path]``: lower-case scheme and host, default port dropped, no
    trailing slash, no user info, query or fragment (they are not part of where one talks to)."""
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        raise InvalidArgumentError("not a gateway URL") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidArgumentError("a gateway URL is http(s)://host[:port][/path]")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def challenge_message(origin: str, challenge: str) -> bytes:
    return AUTH_DOMAIN + canonical_url(origin).encode() + b"\x00" + challenge.encode()
