"""X-Wing (MLKEM768-X25519, HPKE KEM 0x647A) on CPython: ML-KEM-768 from pyca/cryptography
(OpenSSL/AWS-LC), X25519 from libsodium, and the X-Wing combiner (draft-connolly-cfrg-xwing-kem,
draft-irtf-cfrg-concrete-hybrid-kems 4.2), SHA3-256 over a fixed concatenation (core/hpke.py's
``xwing_combine``, which the browser shares).

A private key is its 32-byte seed (as WebCrypto's "raw-seed" and pyca's keys): SHAKE256 expands
it into the ML-KEM-768 seed (d || z) and the X25519 scalar. pyca's own HPKE with
KEM.MLKEM768_X25519 is the outside oracle the tests check this against (tests/vectors/xwing-v1.json).
"""

import hashlib
import os

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric import mlkem

from ..core.errors import InvalidArgumentError, KeyUnwrapError
from ..core.hpke import (MLKEM768_CT_LEN, MLKEM768_PUBLIC_LEN, XWING_CT_LEN, XWING_PUBLIC_LEN, XWING_SEED_LEN,
                         xwing_combine)


def _x25519(scalar: bytes, point: bytes) -> bytes:
    try:
        return sodium.crypto_scalarmult(scalar, point)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.TypeError) as exc:
        raise KeyUnwrapError("X-Wing: the X25519 share is invalid") from exc


class XWingKey:
    """An X-Wing private key, held as its seed and its expanded parts (process memory)."""

    __slots__ = ("seed", "_mlkem", "_x25519", "public")

    def __init__(self, seed: bytes):
        if len(seed) != XWING_SEED_LEN:
            raise InvalidArgumentError("an X-Wing private key (seed) is 32 bytes")
        expanded = hashlib.shake_256(seed).digest(96)
        self.seed = bytes(seed)
        self._mlkem = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = expanded[64:]
        self.public = self._mlkem.public_key().public_bytes_raw() + sodium.crypto_scalarmult_base(self._x25519)

    def __repr__(self) -> str:
        return "<XWingKey>"

    def decapsulate(self, ct: bytes) -> bytes:
        if len(ct) != XWING_CT_LEN:
            raise KeyUnwrapError("X-Wing: the encapsulated key has the wrong length")
        ct_x = ct[MLKEM768_CT_LEN:]
        ss_m = self._mlkem.decapsulate(ct[:MLKEM768_CT_LEN])  # implicit rejection: never raises on a bad ct
        return xwing_combine(ss_m, _x25519(self._x25519, ct_x), ct_x, self.public[MLKEM768_PUBLIC_LEN:])


def generate() -> XWingKey:
    return XWingKey(os.urandom(XWING_SEED_LEN))


def encapsulate(public: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for an X-Wing public key; KeyUnwrapError for a bad key."""
    if len(public) != XWING_PUBLIC_LEN:
        raise KeyUnwrapError("an X-Wing public key is 1216 bytes")
    try:
        pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(public[:MLKEM768_PUBLIC_LEN])
    except ValueError as exc:  # not a valid ML-KEM encapsulation key (FIPS 203's modulus check)
        raise KeyUnwrapError("X-Wing: the ML-KEM public key is invalid") from exc
    pk_x = public[MLKEM768_PUBLIC_LEN:]
    ek_x = os.urandom(32)
    ct_x = sodium.crypto_scalarmult_base(ek_x)
    ss_m, ct_m = pk_m.encapsulate()
    return xwing_combine(ss_m, _x25519(ek_x, pk_x), ct_x, pk_x), ct_m + ct_x
