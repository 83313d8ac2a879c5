"""What a client signs to prove possession of its identity key to a gateway.

The gateway hands out a short-lived challenge (opaque text); the client signs
``"meshkit-web/v1 auth" || 0x00 || audience || 0x00 || challenge`` with its Ed25519 key.
Binding the audience stops a challenge answered for one gateway being replayed at another.
"""

AUTH_DOMAIN = b"meshkit-web/v1 auth\x00"


def challenge_message(audience: str, challenge: str) -> bytes:
    return AUTH_DOMAIN + audience.encode() + b"\x00" + challenge.encode()
