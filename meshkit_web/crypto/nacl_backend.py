"""PyNaCl (libsodium) backend for CPython: X25519, Ed25519, AES-256-GCM.

Keys are held in process memory and can be exported to the file store (the CLI's
identity files): the capability report says so. libsodium's AES-256-GCM needs AES-NI /
ARMv8 crypto; without it this backend refuses to start rather than fall back silently.
"""

import asyncio
import hashlib
import hmac
import os

import nacl.bindings as sodium
import nacl.exceptions
import nacl.signing

from ..core.backend import CryptoBackend, SecretHandle
from . import xwing
from ..core.errors import InvalidArgumentError, KeyUnwrapError, UnsupportedError

# PyNaCl's own wrappers copy every segment twice (into a cffi buffer, then out to bytes);
# calling libsodium through PyNaCl's cffi module writes straight into the result instead.
# Same library, same function: only the copies go.
try:
    from nacl._sodium import ffi as _ffi, lib as _lib
    _AESGCM_AVAILABLE = bool(_lib.crypto_aead_aes256gcm_is_available())
except Exception:  # pragma: no cover - exotic builds
    _AESGCM_AVAILABLE = False

_TAG_LEN = 16
# Segment-sized work goes to a worker thread (libsodium and hashlib release the GIL), so
# sealing one segment overlaps reading and writing the others; small inputs stay inline.
_OFFLOAD_MIN = 64 << 10
_NONCE_LEN = 12


def _check_aead_args(key: bytes, nonce: bytes) -> None:
    if len(key) != 32 or len(nonce) != _NONCE_LEN:
        raise InvalidArgumentError("AES-256-GCM needs a 32-byte key and a 12-byte nonce")


def _aes256gcm_encrypt(key: bytes, nonce: bytes, plaintext, aad: bytes) -> bytearray:
    _check_aead_args(key, nonce)
    out = bytearray(len(plaintext) + _TAG_LEN)
    out_len = _ffi.new("unsigned long long *")
    rc = _lib.crypto_aead_aes256gcm_encrypt(_ffi.from_buffer(out), out_len, _ffi.from_buffer(plaintext),
                                            len(plaintext), aad, len(aad), _ffi.NULL, nonce, key)
    if rc != 0 or out_len[0] != len(out):
        raise RuntimeError("libsodium AES-256-GCM encryption failed")
    return out


def _aes256gcm_decrypt(key: bytes, nonce: bytes, ciphertext, aad: bytes) -> bytearray | None:
    _check_aead_args(key, nonce)
    if len(ciphertext) < _TAG_LEN:
        return None
    out = bytearray(len(ciphertext) - _TAG_LEN)
    out_len = _ffi.new("unsigned long long *")
    rc = _lib.crypto_aead_aes256gcm_decrypt(_ffi.from_buffer(out), out_len, _ffi.NULL,
                                            _ffi.from_buffer(ciphertext), len(ciphertext), aad, len(aad),
                                            nonce, key)
    if rc != 0:
        return None  # authentication failed; libsodium has not released any plaintext
    return out


class RawKey(SecretHandle):
    __slots__ = ("raw",)

    def __init__(self, raw: bytes):
        self.raw = bytes(raw)


def _seal_and_hash(key: bytes, nonce: bytes, plaintext) -> tuple[bytearray, bytes]:
    data = _aes256gcm_encrypt(key, nonce, plaintext, b"")
    return data, hashlib.sha256(data).digest()


def _check_and_open(key: bytes, nonce: bytes, data, digest: bytes) -> tuple[bool, bytearray | None]:
    if not hmac.compare_digest(hashlib.sha256(data).digest(), digest):
        return False, None  # not the block asked for: never decrypted
    return True, _aes256gcm_decrypt(key, nonce, data, b"")


class NaclBackend(CryptoBackend):
    name = "pynacl"
    # libsodium and hashlib release the GIL: three segments in flight keep both cores busy
    # (one hashing/encrypting while another does, one being read or written)
    pipeline_depth = 3

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
            raise InvalidArgumentError("X25519 private key must be 32 bytes")
        return RawKey(raw), sodium.crypto_scalarmult_base(raw)

    async def x25519(self, private: RawKey, peer_public: bytes) -> bytes:
        try:
            return sodium.crypto_scalarmult(private.raw, peer_public)
        except (nacl.exceptions.RuntimeError, nacl.exceptions.TypeError) as exc:
            # libsodium refuses low-order points (all-zero shared secret), as RFC 9180 requires
            raise KeyUnwrapError("X25519 key agreement failed (invalid public key)") from exc

    def pq_support(self) -> dict:
        return {"keys": True, "seed": True, "encapsulate": True}

    async def xwing_generate(self):
        key = xwing.generate()
        return key, key.public

    async def xwing_import_seed(self, seed: bytes):
        key = xwing.XWingKey(seed)
        return key, key.public

    async def xwing_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        return xwing.encapsulate(public)

    async def xwing_decapsulate(self, private: "xwing.XWingKey", ciphertext: bytes) -> bytes:
        return private.decapsulate(ciphertext)

    async def ed25519_generate(self):
        seed = os.urandom(32)
        return RawKey(seed), bytes(nacl.signing.SigningKey(seed).verify_key)

    async def ed25519_import_private(self, seed: bytes):
        if len(seed) != 32:
            raise InvalidArgumentError("an Ed25519 seed is 32 bytes")
        return RawKey(seed), bytes(nacl.signing.SigningKey(bytes(seed)).verify_key)

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

    # Results are bytearrays (bytes-like): returning bytes would cost one more 1 MiB copy
    # per segment, a fifth of the seal time.
    async def aead_seal(self, key: RawKey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytearray:
        if len(plaintext) >= _OFFLOAD_MIN:
            return await asyncio.to_thread(_aes256gcm_encrypt, key.raw, nonce, plaintext, aad)
        return _aes256gcm_encrypt(key.raw, nonce, plaintext, aad)

    async def aead_open(self, key: RawKey, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytearray | None:
        if len(ciphertext) >= _OFFLOAD_MIN:
            return await asyncio.to_thread(_aes256gcm_decrypt, key.raw, nonce, ciphertext, aad)
        return _aes256gcm_decrypt(key.raw, nonce, ciphertext, aad)

    # One thread hop per segment for both the cipher and the hash (the CID).
    async def seal_segment(self, key: RawKey, nonce: bytes, plaintext) -> tuple[bytearray, bytes]:
        if len(plaintext) >= _OFFLOAD_MIN:
            return await asyncio.to_thread(_seal_and_hash, key.raw, nonce, plaintext)
        return _seal_and_hash(key.raw, nonce, plaintext)

    async def open_segment(self, key: RawKey, nonce: bytes, data, digest: bytes) -> tuple[bool, bytearray | None]:
        if len(data) >= _OFFLOAD_MIN:
            return await asyncio.to_thread(_check_and_open, key.raw, nonce, data, digest)
        return _check_and_open(key.raw, nonce, data, digest)

    async def offload(self, function, *args):
        if any(isinstance(a, (bytes, bytearray)) and len(a) >= _OFFLOAD_MIN for a in args):
            return await asyncio.to_thread(function, *args)
        return function(*args)

    # Only for the file store: the CPython runtime's keys are exportable by design.
    @staticmethod
    def export_private(handle: "RawKey | xwing.XWingKey") -> bytes:
        return handle.seed if isinstance(handle, xwing.XWingKey) else handle.raw

    @staticmethod
    def import_private(raw: bytes) -> RawKey:
        return RawKey(raw)
