"""Writes tests/vectors/xwing-v1.json: X-Wing recipients (FORMAT.md 2.1, 3.4, 5.1) checked
against outside implementations.

- ``kem``: the X-Wing authors' own test vectors (draft-connolly-cfrg-xwing-kem,
  spec/test-vectors.json: seed -> public key, ciphertext -> shared secret), copied as published.
- ``hpke``: HPKE base mode with KEM 0x647A, HKDF-SHA256, AES-256-GCM, sealed by pyca/cryptography's
  own HPKE (``KEM.MLKEM768_X25519``), not by MeshKit's code. Encapsulation is randomized: running
  this again gives other bytes, which verify the same way.
- ``identity``: a hybrid identity record (5.1) from fixed seeds, with its fingerprint.
    .venv/bin/python scripts/make_xwing_vectors.py [path to the draft's test-vectors.json]
"""

import asyncio
import hashlib
import json
import pathlib
import sys

from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from meshkit_web.core.envelope import WRAP_INFO
from meshkit_web.core.identity import make_identity
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "xwing-v1.json"
DRAFT = "https://github.com/dconnolly/draft-connolly-cfrg-xwing-kem/blob/9b6ce9e/spec/test-vectors.json"
T0 = 1_790_000_000


def pyca_private(seed: bytes) -> hpke.MLKEM768X25519PrivateKey:
    """pyca's X-Wing key for a seed: its two parts from the draft's SHAKE256 expansion."""
    expanded = hashlib.shake_256(seed).digest(96)
    return hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
                                         x25519.X25519PrivateKey.from_private_bytes(expanded[64:]))


def pyca_public_bytes(seed: bytes) -> bytes:
    expanded = hashlib.shake_256(seed).digest(96)
    m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    return m + x25519.X25519PrivateKey.from_private_bytes(expanded[64:]).public_key().public_bytes_raw()


def hpke_case(seed: bytes, info: bytes, aad: bytes, pt: bytes) -> dict:
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    sealed = rust_openssl.hpke._encrypt_with_aad(suite, pt, pyca_private(seed).public_key(), info=info, aad=aad)
    return {"seed": seed.hex(), "pk": pyca_public_bytes(seed).hex(), "info": info.hex(), "aad": aad.hex(),
            "pt": pt.hex(), "enc": sealed[:1120].hex(), "ct": sealed[1120:].hex()}


async def identity_case() -> dict:
    backend = NaclBackend()
    sig_private, sig_key = await backend.ed25519_import_private(bytes([7]) * 32)
    enc_private, enc_key = await backend.x25519_import_private(bytes([8]) * 32)
    pq_seed = bytes([9]) * 32
    pq_private, pq_key = await backend.xwing_import_seed(pq_seed)
    identity = await make_identity(backend, "alice", T0, sig_private, sig_key, enc_private, enc_key,
                                   pq_private=pq_private, pq_key=pq_key)
    return {"sig_seed": (bytes([7]) * 32).hex(), "enc_private": (bytes([8]) * 32).hex(), "pq_seed": pq_seed.hex(),
            "record": identity.public.to_bytes().hex(), "id": identity.id,
            "fingerprint": identity.public.fingerprint}


def main() -> None:
    draft = json.loads(pathlib.Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else \
        json.loads(OUT.read_text())["kem"]["vectors"]
    kem = [{"sk": v["sk"], "pk": v["pk"], "ct": v["ct"], "ss": v["ss"]} for v in draft]
    for v in kem:  # the draft's public keys are pyca's too
        assert pyca_public_bytes(bytes.fromhex(v["sk"])).hex() == v["pk"]
    cases = [hpke_case(bytes([n]) * 32, WRAP_INFO, aad, pt) for n, aad, pt in (
        (1, bytes(range(32)), bytes(range(100, 132))),  # a content key wrap: aad = the commitment
        (2, b"", b"any length of plaintext, info and aad"),
    )]
    OUT.write_text(json.dumps({"kem": {"source": DRAFT, "vectors": kem},
                               "hpke": {"source": "pyca/cryptography 50.0.2 hpke.Suite(KEM.MLKEM768_X25519, "
                                                  "KDF.HKDF_SHA256, AEAD.AES_256_GCM)", "vectors": cases},
                               "identity": asyncio.run(identity_case())}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
