"""HPKE (RFC 9180), base mode, HKDF-SHA256, AES-GCM, with one of two KEMs: DHKEM(X25519,
HKDF-SHA256) (0x0020), or X-Wing, the hybrid ML-KEM-768 + X25519 KEM (0x647A,
draft-ietf-hpke-pq), whose shared secret goes into the key schedule as it is.

Only the base mode is implemented: MeshKit authenticates senders with Ed25519 signatures
over the envelope header, not with HPKE's auth modes. The AEAD is a parameter so the
RFC's AES-128-GCM vector (A.1) exercises exactly this code; MeshKit itself uses
AES-256-GCM (aead_id 0x0002).
"""

import functools
import hashlib
from dataclasses import dataclass

from . import kdf
from .backend import CryptoBackend, SecretHandle
from .errors import InvalidArgumentError, KeyUnwrapError

KEM_X25519_SHA256 = 0x0020
KEM_XWING = 0x647A  # MLKEM768-X25519 ("X-Wing")
KEMS = (KEM_X25519_SHA256, KEM_XWING)
XWING_SEED_LEN = 32       # a private key is its seed
XWING_PUBLIC_LEN = 1216   # ML-KEM-768 encapsulation key (1184) || X25519 public key (32)
XWING_CT_LEN = 1120       # ML-KEM-768 ciphertext (1088) || X25519 ephemeral public key (32)
MLKEM768_PUBLIC_LEN = 1184
MLKEM768_CT_LEN = 1088
_XWING_LABEL = b"\\.//^\\"  # XWingLabel, the six bytes 5c 2e 2f 2f 5e 5c
ENC_LENS = {KEM_X25519_SHA256: 32, KEM_XWING: XWING_CT_LEN}
KDF_HKDF_SHA256 = 0x0001
AEAD_AES128GCM = 0x0001
AEAD_AES256GCM = 0x0002
_AEAD_KEY_LEN = {AEAD_AES128GCM: 16, AEAD_AES256GCM: 32}
NONCE_LEN = 12
TAG_LEN = 16
ENC_LEN = 32
MODE_BASE = 0x00

_KEM_SUITE_ID = b"KEM" + KEM_X25519_SHA256.to_bytes(2, "big")


def suite_name(kem: int) -> str:
    """An HPKE KEM id as every API names it: "x-wing" (0x647A) or "x25519" (0x0020)."""
    return "x-wing" if kem == KEM_XWING else "x25519"


@functools.lru_cache(maxsize=4096)  # records are read again and again (every contact, every seal)
def xwing_public_checks(key: bytes) -> bool:
    """FIPS 203 7.2's encapsulation-key check on an X-Wing public key's ML-KEM-768 part: every
    12-bit coefficient below q = 3329. A key failing it can never be wrapped to, so a record
    listing one would make every seal to it fail (checked where records are read)."""
    packed = key[:MLKEM768_PUBLIC_LEN - 32]  # 768 coefficients, then the 32-byte seed rho
    for i in range(0, len(packed), 3):
        low, mid, high = packed[i], packed[i + 1], packed[i + 2]
        if (low | (mid & 0x0F) << 8) >= 3329 or (mid >> 4 | high << 4) >= 3329:
            return False
    return True


def xwing_combine(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    """X-Wing's combiner (draft-connolly-cfrg-xwing-kem): the shared secret from the ML-KEM-768
    and X25519 secrets, the X25519 ciphertext and the recipient's X25519 public key. Pure
    Python, so CPython and the browser (which may hold a key as its two parts) share it."""
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + _XWING_LABEL).digest()


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return kdf.extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return kdf.expand(prk, _i2osp(length, 2) + b"HPKE-v1" + suite_id + label + info, length)


def derive_x25519_private(ikm: bytes) -> bytes:
    """DeriveKeyPair for X25519 (RFC 9180 section 7.1.3): the private scalar bytes."""
    dkp_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    return _labeled_expand(_KEM_SUITE_ID, dkp_prk, b"sk", b"", 32)


def _extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, 32)


@dataclass
class Context:
    """An HPKE encryption context (RFC 9180 section 5.2)."""

    backend: CryptoBackend
    suite_id: bytes
    key: SecretHandle
    base_nonce: bytes
    exporter_secret: bytes
    seq: int = 0

    def _next_nonce(self) -> bytes:
        nonce = bytes(a ^ b for a, b in zip(self.base_nonce, _i2osp(self.seq, NONCE_LEN)))
        self.seq += 1
        return nonce

    async def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        # bytes(): backends may return any bytes-like object (small here, so the copy is free)
        return bytes(await self.backend.aead_seal(self.key, self._next_nonce(), plaintext, aad))

    async def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        plaintext = await self.backend.aead_open(self.key, self._next_nonce(), ciphertext, aad)
        if plaintext is None:
            raise KeyUnwrapError("HPKE ciphertext did not authenticate")
        return bytes(plaintext)

    def export(self, exporter_context: bytes, length: int) -> bytes:
        return _labeled_expand(self.suite_id, self.exporter_secret, b"sec", exporter_context, length)


class Suite:
    def __init__(self, backend: CryptoBackend, aead_id: int = AEAD_AES256GCM, kem_id: int = KEM_X25519_SHA256):
        if aead_id not in _AEAD_KEY_LEN:
            raise InvalidArgumentError("unsupported HPKE AEAD id")
        if kem_id not in KEMS:
            raise InvalidArgumentError("unsupported HPKE KEM id")
        self.backend = backend
        self.aead_id = aead_id
        self.kem_id = kem_id
        self.suite_id = (b"HPKE" + _i2osp(kem_id, 2)
                         + _i2osp(KDF_HKDF_SHA256, 2) + _i2osp(aead_id, 2))

    async def _key_schedule(self, shared_secret: bytes, info: bytes) -> Context:
        psk_id_hash = _labeled_extract(self.suite_id, b"", b"psk_id_hash", b"")
        info_hash = _labeled_extract(self.suite_id, b"", b"info_hash", info)
        ks_context = bytes([MODE_BASE]) + psk_id_hash + info_hash
        secret = _labeled_extract(self.suite_id, shared_secret, b"secret", b"")
        key = _labeled_expand(self.suite_id, secret, b"key", ks_context, _AEAD_KEY_LEN[self.aead_id])
        base_nonce = _labeled_expand(self.suite_id, secret, b"base_nonce", ks_context, NONCE_LEN)
        exporter_secret = _labeled_expand(self.suite_id, secret, b"exp", ks_context, kdf.HASH_LEN)
        return Context(self.backend, self.suite_id, await self.backend.aead_key(key),
                       base_nonce, exporter_secret)

    async def setup_sender(self, recipient_public: bytes, info: bytes,
                           ephemeral: tuple[SecretHandle, bytes] | None = None) -> tuple[bytes, Context]:
        """SetupBaseS: returns (enc, context). ``ephemeral`` (X25519 only) is injected only by tests."""
        if self.kem_id == KEM_XWING:
            shared_secret, enc = await self.backend.xwing_encapsulate(recipient_public)
            return enc, await self._key_schedule(shared_secret, info)
        sk_e, pk_e = ephemeral or await self.backend.x25519_generate()
        dh = await self.backend.x25519(sk_e, recipient_public)
        shared_secret = _extract_and_expand(dh, pk_e + recipient_public)
        return pk_e, await self._key_schedule(shared_secret, info)

    async def setup_recipient(self, enc: bytes, recipient_private: SecretHandle,
                              recipient_public: bytes, info: bytes) -> Context:
        """SetupBaseR."""
        if len(enc) != ENC_LENS[self.kem_id]:
            raise KeyUnwrapError("HPKE encapsulated key has the wrong length")
        if self.kem_id == KEM_XWING:
            shared_secret = await self.backend.xwing_decapsulate(recipient_private, enc)
        else:
            dh = await self.backend.x25519(recipient_private, enc)
            shared_secret = _extract_and_expand(dh, enc + recipient_public)
        return await self._key_schedule(shared_secret, info)

    async def seal(self, recipient_public: bytes, info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        """Single-shot SealBase: (enc, ciphertext)."""
        enc, ctx = await self.setup_sender(recipient_public, info)
        return enc, await ctx.seal(plaintext, aad)

    async def open(self, enc: bytes, recipient_private: SecretHandle, recipient_public: bytes,
                   info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Single-shot OpenBase; raises KeyUnwrapError."""
        ctx = await self.setup_recipient(enc, recipient_private, recipient_public, info)
        return await ctx.open(ciphertext, aad)
