"""PyNaCl (libsodium) backend for CPython: X25519, Ed25519, AES-256-GCM.

Keys are held in process memory and can be exported to the file store (the CLI's
identity files): the capability report says so. libsodium's AES-256-GCM needs AES-NI /
ARMv8 crypto; without it this backend refuses to start rather than fall back silently.
"""

import os

import nacl.bindings as sodium
import nacl.exceptions
import nacl.signing

from ..core.backend import CryptoBackend, SecretHandle
from ..core.errors import KeyUnwrapError, UnsupportedError

try:  # PyNaCl does not re-export the availability check
    from nacl._sodium import lib as _lib
    _AESGCM_AVAILABLE = bool(_lib.crypto_aead_aes256gcm_is_available())
except Exception:  # pragma: no cover - exotic builds
    _AESGCM_AVAILABLE = False


class RawKey(SecretHandle):
    __slots__ = ("raw",)

    def __init__(self, raw: bytes):
        self.raw = bytes(raw)


class NaclBackend(CryptoBackend):
    name = "pynacl"

    def __init__(self):
        if not _AESGCM_AVAILABLE:
            raise UnsupportedError("libsodium AES-256-GCM needs CPU AES support, which this machine lacks")

    def capabilities(self) -> dict:
        return {"backend": self.name, "key_storage": "exportable (process memory, 0600 files)",
                "non_exportable_keys": False}

    async def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    async def x25519_generate(self):
        return await self.x25519_import_private(os.urandom(32))

    async def x25519_import_private(self, raw: bytes):
        if len(raw) != 32:
            raise ValueError("X25519 private key must be 32 bytes")
        return RawKey(raw), sodium.crypto_scalarmult_base(raw)

    async def x25519(self, private: RawKey, peer_public: bytes) -> bytes:
        try:
            return sodium.crypto_scalarmult(private.raw, peer_public)
        except (nacl.exceptions.RuntimeError, nacl.exceptions.TypeError) as exc:
            # libsodium refuses low-order points (all-zero shared secret), as RFC 9180 requires
            raise KeyUnwrapError("X25519 key agreement failed (invalid public key)") from exc

    async def ed25519_generate(self):
        seed = os.urandom(32)
        return RawKey(seed), bytes(nacl.signing.SigningKey(seed).verify_key)

    async def ed25519_sign(self, private: RawKey, message: bytes) -> bytes:
        return nacl.signing.SigningKey(private.raw).sign(message).signature

    async def ed25519_verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        try:
            nacl.signing.VerifyKey(public).verify(message, signature)
            return True
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
            return False

    async def aead_key(self, key: bytes) -> RawKey:
        if len(key) != 32:
            raise UnsupportedError("this backend implements AES-256-GCM only")
        return RawKey(key)

    async def aead_seal(self, key: RawKey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return sodium.crypto_aead_aes256gcm_encrypt(plaintext, aad or None, nonce, key.raw)

    async def aead_open(self, key: RawKey, nonce: bytes, ciphertext: bytes, aad: bytes):
        try:
            return sodium.crypto_aead_aes256gcm_decrypt(ciphertext, aad or None, nonce, key.raw)
        except nacl.exceptions.CryptoError:
            return None

    # Only for the file store: the CPython runtime's keys are exportable by design.
    @staticmethod
    def export_private(handle: RawKey) -> bytes:
        return handle.raw

    @staticmethod
    def import_private(raw: bytes) -> RawKey:
        return RawKey(raw)
