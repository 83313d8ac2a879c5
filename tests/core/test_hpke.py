"""HPKE against RFC 9180 vector A.1 (AES-128-GCM variant of the same code) and pyhpke both ways."""

import os
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from meshkit_web.core import hpke
from meshkit_web.core.errors import KeyUnwrapError
from meshkit_web.crypto.nacl_backend import NaclBackend, RawKey

from support.aio import run
from support.constants import TESTS

# A copy of ../shared/vectors/ (RFC 9180 appendix A.1), kept in the repo so a lone clone tests too.
VECTOR = os.path.join(TESTS, "vectors", "rfc9180-A1-x25519-sha256-aes128gcm.txt")


def parse_base_mode_vector(path):
    """The 'Base Setup Information' section: setup fields, encryptions, exports (hex)."""
    text = open(path).read()
    section = text.split("### Base Setup Information", 1)[1].split("### PSK Setup Information", 1)[0]
    blocks = re.findall(r"~~~\n(.*?)~~~", section, re.S)

    def fields(block):
        out, key = {}, None
        for line in block.splitlines():
            match = re.match(r"^([a-z_ A-Z]+):\s*(\S*)$", line)
            if match:
                key = match.group(1).strip()
                out[key] = match.group(2)
            elif line.strip() and key:
                out[key] += line.strip()
        return out

    setup = fields(blocks[0])
    encryptions = [fields(chunk) for chunk in blocks[1].strip().split("\n\n")]
    exports = [fields(chunk) for chunk in blocks[2].strip().split("\n\n")]
    return setup, encryptions, exports


class Aes128TestBackend(NaclBackend):
    """PyNaCl backend plus AES-128-GCM from pyca/cryptography, only to run the RFC's A.1 suite."""

    async def aead_key(self, key):
        return RawKey(key)

    async def aead_seal(self, key, nonce, plaintext, aad):
        return AESGCM(key.raw).encrypt(nonce, plaintext, aad)

    async def aead_open(self, key, nonce, ciphertext, aad):
        try:
            return AESGCM(key.raw).decrypt(nonce, ciphertext, aad)
        except Exception:
            return None


def test_vector_file_parses_as_expected():
    setup, encryptions, exports = parse_base_mode_vector(VECTOR)
    assert setup["mode"] == "0" and setup["aead_id"] == "1"
    assert [e["sequence number"] for e in encryptions] == ["0", "1", "2", "4", "255", "256"]
    assert len(exports) == 3


def test_rfc9180_a1_base_mode():
    setup, encryptions, exports = parse_base_mode_vector(VECTOR)
    h = bytes.fromhex
    backend = Aes128TestBackend()
    suite = hpke.Suite(backend, hpke.AEAD_AES128GCM)
    info = h(setup["info"])

    assert hpke.derive_x25519_private(h(setup["ikmE"])) == h(setup["skEm"])
    assert hpke.derive_x25519_private(h(setup["ikmR"])) == h(setup["skRm"])

    async def go():
        ephemeral = await backend.x25519_import_private(h(setup["skEm"]))
        assert ephemeral[1] == h(setup["pkEm"])
        enc, sender = await suite.setup_sender(h(setup["pkRm"]), info, ephemeral=ephemeral)
        assert enc == h(setup["enc"])
        assert sender.key.raw == h(setup["key"])
        assert sender.base_nonce == h(setup["base_nonce"])
        assert sender.exporter_secret == h(setup["exporter_secret"])

        sk_r, pk_r = await backend.x25519_import_private(h(setup["skRm"]))
        assert pk_r == h(setup["pkRm"])
        receiver = await suite.setup_recipient(enc, sk_r, pk_r, info)
        for case in encryptions:
            seq = int(case["sequence number"])
            sender.seq = receiver.seq = seq
            ct = await sender.seal(h(case["pt"]), h(case["aad"]))
            assert ct == h(case["ct"]), f"sequence {seq}"
            assert await receiver.open(ct, h(case["aad"])) == h(case["pt"])
        for case in exports:
            assert sender.export(h(case["exporter_context"]), int(case["L"])) == h(case["exported_value"])
    run(go())


PYHPKE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def test_pyhpke_opens_ours():
    backend = NaclBackend()
    key_pair = PYHPKE.kem.derive_key_pair(os.urandom(32))
    public = key_pair.public_key.to_public_bytes()

    async def go():
        return await hpke.Suite(backend).seal(public, b"info", b"aad", b"content key" * 3)
    enc, ct = run(go())
    receiver = PYHPKE.create_recipient_context(enc, key_pair.private_key, info=b"info")
    assert receiver.open(ct, aad=b"aad") == b"content key" * 3


def test_we_open_pyhpke():
    backend = NaclBackend()

    async def go():
        private, public = await backend.x25519_generate()
        enc, sender = PYHPKE.create_sender_context(PYHPKE.kem.deserialize_public_key(public), info=b"info")
        ct = sender.seal(b"from pyhpke", aad=b"aad")
        assert await hpke.Suite(backend).open(enc, private, public, b"info", b"aad", ct) == b"from pyhpke"
        with pytest.raises(KeyUnwrapError):
            await hpke.Suite(backend).open(enc, private, public, b"other info", b"aad", ct)
        with pytest.raises(KeyUnwrapError):  # low-order point: libsodium refuses an all-zero secret
            await hpke.Suite(backend).open(bytes(32), private, public, b"info", b"aad", ct)
    run(go())
