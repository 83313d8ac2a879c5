"""The one async interface every crypto backend implements.

Private keys and AEAD keys are opaque *handles*: a PyNaCl backend holds bytes, a
WebCrypto backend holds non-extractable CryptoKey objects. Core never asks a backend to
export a private key. HKDF/HMAC/SHA-256 live in Core (standard library).
"""

import hashlib
import hmac
from abc import ABC, abstractmethod
from .errors import UnsupportedError


def _sha256(data) -> bytes:
    return hashlib.sha256(data).digest()


class SecretHandle:
    """Base for backend key handles: never prints its contents."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} redacted>"

    __str__ = __repr__


class CryptoBackend(ABC):
    name = "abstract"
    # Segments sealed or opened at once (core.pipeline): a backend whose work runs off the
    # caller's thread (worker threads, WebCrypto) overlaps several; inline backends gain nothing.
    pipeline_depth = 2

    def capabilities(self) -> dict:
        """What this backend really provides (reported by the runtime)."""
        return {}

    async def offload(self, function, *args):
        """Run a CPU-bound pure function (hashing a segment). Inline by default; a backend
        on a threaded runtime may run it in a worker thread so it overlaps other work."""
        return function(*args)

    async def sha256(self, data) -> bytes:
        """SHA-256 of a block, for its CID. hashlib through ``offload`` by default; a backend
        with a faster native hash (WebCrypto's digest in the browser) overrides this."""
        return await self.offload(_sha256, data)

    async def seal_segment(self, key: SecretHandle, nonce: bytes, plaintext) -> tuple[bytes, bytes]:
        """(sealed block, SHA-256 of it) in one call (aad empty): a backend may do both in one
        trip off its thread instead of two."""
        data = await self.aead_seal(key, nonce, plaintext, b"")
        return data, await self.sha256(data)

    async def open_segment(self, key: SecretHandle, nonce: bytes, data, digest: bytes) -> tuple[bool, bytes | None]:
        """(SHA-256 of ``data`` == ``digest``, plaintext or None when it fails to authenticate).
        Nothing is decrypted unless the digest matches: the block is checked before use."""
        if not hmac.compare_digest(await self.sha256(data), digest):
            return False, None
        return True, await self.aead_open(key, nonce, data, b"")

    @abstractmethod
    async def random_bytes(self, n: int) -> bytes: ...

    # X25519 (key agreement for HPKE's DHKEM)
    @abstractmethod
    async def x25519_generate(self) -> tuple[SecretHandle, bytes]:
        """A new key pair: (private handle, 32-byte public key)."""

    @abstractmethod
    async def x25519_import_private(self, raw: bytes) -> tuple[SecretHandle, bytes]:
        """A handle for a known private scalar (HPKE DeriveKeyPair, test vectors)."""

    @abstractmethod
    async def x25519(self, private: SecretHandle, peer_public: bytes) -> bytes:
        """The shared secret; raises KeyUnwrapError for a low-order peer key (all-zero output)."""

    # X-Wing (MLKEM768-X25519, HPKE KEM 0x647A). Optional: a backend without it says so in
    # pq_support() and raises UnsupportedError; senders then wrap with X25519, visibly.
    def pq_support(self) -> dict:
        """{"keys": can keep X-Wing private keys (stored), "seed": can make one from a seed for
        this session (a recovery or send-link key: never stored), "encapsulate": can wrap to
        X-Wing public keys}."""
        return {"keys": False, "seed": False, "encapsulate": False}

    async def xwing_generate(self) -> tuple[SecretHandle, bytes]:
        """A new key pair: (private handle, 1216-byte public key)."""
        raise UnsupportedError("post-quantum (X-Wing) keys are not available here")

    async def xwing_import_seed(self, seed: bytes) -> tuple[SecretHandle, bytes]:
        """A handle for a known 32-byte X-Wing seed (the recovery key, test vectors)."""
        raise UnsupportedError("post-quantum (X-Wing) keys are not available here")

    async def xwing_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        """(32-byte shared secret, 1120-byte ciphertext); KeyUnwrapError for an invalid key."""
        raise UnsupportedError("post-quantum (X-Wing) wrapping is not available here")

    async def xwing_decapsulate(self, private: SecretHandle, ciphertext: bytes) -> bytes:
        """The 32-byte shared secret (ML-KEM rejects implicitly: a bad ciphertext gives a wrong one)."""
        raise UnsupportedError("post-quantum (X-Wing) keys are not available here")

    # Ed25519
    @abstractmethod
    async def ed25519_generate(self) -> tuple[SecretHandle, bytes]: ...

    @abstractmethod
    async def ed25519_import_private(self, seed: bytes) -> tuple[SecretHandle, bytes]:
        """A signing handle for a known 32-byte seed (keys derived from a recovery secret)."""

    @abstractmethod
    async def ed25519_sign(self, private: SecretHandle, message: bytes) -> bytes: ...

    @abstractmethod
    async def ed25519_verify(self, public: bytes, message: bytes, signature: bytes) -> bool: ...

    # AES-GCM (256-bit keys; a backend may also accept 128-bit keys)
    @abstractmethod
    async def aead_key(self, key: bytes) -> SecretHandle: ...

    @abstractmethod
    async def aead_seal(self, key: SecretHandle, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """ciphertext || 16-byte tag, as any bytes-like object (bytes, bytearray)."""

    @abstractmethod
    async def aead_open(self, key: SecretHandle, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
        """The plaintext (bytes-like), or None when authentication fails (callers raise the typed error)."""
