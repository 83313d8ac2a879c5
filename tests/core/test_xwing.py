"""X-Wing recipients (FORMAT.md 2.1, 3.4, 5.1) against outside implementations: the X-Wing
authors' KEM vectors, pyca/cryptography's HPKE, and what an attacker holding only the X25519
secrets of every recipient can open (nothing sealed by default)."""

import dataclasses
import hashlib
import json
import pathlib

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from meshkit_web.core import codec, errors, hpke
from meshkit_web.core.cid import DAG_CBOR, cid_bytes
from meshkit_web.core.envelope import (KIND, WRAP_INFO, parse_header, parse_wrapped_key, read_header,
                                       unwrap_content_key)
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING, Suite
from meshkit_web.core.identity import Identity, create_identity, make_identity, record_from_bytes, verify_record

from support.aio import run
from support.constants import NOW
from support.envelopes import getter, open_all, seal_to_blocks

VECTORS = json.loads((pathlib.Path(__file__).parent.parent / "vectors" / "xwing-v1.json").read_text())
PYCA = pyca_hpke.Suite(pyca_hpke.KEM.MLKEM768_X25519, pyca_hpke.KDF.HKDF_SHA256, pyca_hpke.AEAD.AES_256_GCM)


@pytest.mark.parametrize("vector", VECTORS["kem"]["vectors"], ids=lambda v: v["sk"][:8])
def test_the_kem_matches_the_x_wing_authors_vectors(backend, vector):
    handle, public = run(backend.xwing_import_seed(bytes.fromhex(vector["sk"])))
    assert public.hex() == vector["pk"]
    assert run(backend.xwing_decapsulate(handle, bytes.fromhex(vector["ct"]))).hex() == vector["ss"]


@pytest.mark.parametrize("vector", VECTORS["hpke"]["vectors"], ids=lambda v: v["seed"][:4])
def test_what_pycas_hpke_sealed_opens_here(backend, vector):
    handle, public = run(backend.xwing_import_seed(bytes.fromhex(vector["seed"])))
    assert public.hex() == vector["pk"]
    args = [bytes.fromhex(vector[k]) for k in ("enc",)] + [handle, public] + \
        [bytes.fromhex(vector[k]) for k in ("info", "aad", "ct")]
    assert run(Suite(backend, kem_id=KEM_XWING).open(*args)).hex() == vector["pt"]
    # the suite is bound: the same bytes under X25519's suite id (or a flipped byte) never open
    tampered = bytearray(bytes.fromhex(vector["ct"]))
    tampered[0] ^= 1
    with pytest.raises(errors.KeyUnwrapError):
        run(Suite(backend, kem_id=KEM_XWING).open(*args[:5], bytes(tampered)))


def test_what_is_sealed_here_opens_in_pycas_hpke(backend):
    vector = VECTORS["hpke"]["vectors"][0]
    seed, aad = bytes.fromhex(vector["seed"]), bytes.fromhex(vector["aad"])
    _, public = run(backend.xwing_import_seed(seed))
    enc, ct = run(Suite(backend, kem_id=KEM_XWING).seal(public, WRAP_INFO, aad, b"a content key, 32 bytes long!!!!"))
    expanded = hashlib.shake_256(seed).digest(96)
    private = pyca_hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
                                                 x25519.X25519PrivateKey.from_private_bytes(expanded[64:]))
    opened = rust_openssl.hpke._decrypt_with_aad(PYCA, enc + ct, private, info=WRAP_INFO, aad=aad)
    assert opened == b"a content key, 32 bytes long!!!!"


def test_a_hybrid_identity_record_is_byte_exact(backend):
    v = VECTORS["identity"]
    sig_private, sig_key = run(backend.ed25519_import_private(bytes.fromhex(v["sig_seed"])))
    enc_private, enc_key = run(backend.x25519_import_private(bytes.fromhex(v["enc_private"])))
    pq_private, pq_key = run(backend.xwing_import_seed(bytes.fromhex(v["pq_seed"])))
    made = run(make_identity(backend, "alice", 1_790_000_000, sig_private, sig_key, enc_private, enc_key,
                             pq_private=pq_private, pq_key=pq_key))
    assert made.public.to_bytes().hex() == v["record"]
    public = run(record_from_bytes(backend, bytes.fromhex(v["record"])))
    assert public.pq_key == pq_key and public.fingerprint == v["fingerprint"] and public.id == v["id"]
    # the fingerprint covers the X-Wing key: the same two classic keys without it read differently
    assert dataclasses.replace(public, pq_key=None).fingerprint != v["fingerprint"]


def test_a_record_cannot_lose_or_change_its_x_wing_key(backend):
    record = codec.decode_map(bytes.fromhex(VECTORS["identity"]["record"]), "identity")
    stripped = {k: v for k, v in record.items() if k != "pq_key"}
    with pytest.raises(errors.SignatureError):  # a gateway that strips it breaks the signature
        run(verify_record(backend, stripped))
    with pytest.raises(errors.EnvelopeFormatError):
        run(verify_record(backend, {**record, "pq_key": record["pq_key"][:-1]}))


@pytest.mark.parametrize("where", [0, 1151 - 2], ids=["first coefficient", "last coefficient"])
def test_a_record_whose_ml_kem_key_fails_fips_203s_check_is_malformed(backend, where):
    """A coefficient of q or more in the ML-KEM-768 part: pyca refuses the key, and so does
    every reader of a record listing it (every seal to it would fail otherwise)."""
    record = codec.decode_map(bytes.fromhex(VECTORS["identity"]["record"]), "identity")
    bad = bytearray(record["pq_key"])
    bad[where:where + 3] = b"\x01\x0d\x00" if where == 0 else b"\x00\x10\xd0"  # 3329 = 0xd01
    with pytest.raises(ValueError):
        mlkem.MLKEM768PublicKey.from_public_bytes(bytes(bad[:1184]))
    with pytest.raises(errors.EnvelopeFormatError):
        run(verify_record(backend, {**record, "pq_key": bytes(bad)}))
    bad[where:where + 3] = b"\x00\x0d\x00" if where == 0 else b"\x00\x00\xd0"  # 3328 = q - 1: a valid coefficient
    assert hpke.xwing_public_checks(bytes(bad))
    mlkem.MLKEM768PublicKey.from_public_bytes(bytes(bad[:1184]))  # pyca takes it too


def test_recipient_entries_name_their_kem_once(backend, people):
    root, store, _ = run(seal_to_blocks(backend, b"x", people["alice"], [people["bob"].public]))
    entry = dict(parse_header(root, store[root]).raw["recipients"][0])
    assert entry["kem"] == KEM_XWING and len(entry["enc"]) == 1120
    assert parse_wrapped_key(entry).kem == KEM_XWING
    for bad in ({**entry, "kem": KEM_X25519_SHA256}, {**entry, "kem": 0x0010}, {**entry, "enc": entry["enc"][:32]},
                {k: v for k, v in entry.items() if k != "kem"}):  # an X-Wing enc without kem: wrong length
        with pytest.raises(errors.EnvelopeFormatError):
            parse_wrapped_key(bad)


def test_sealing_picks_x_wing_per_recipient(backend, people):
    classic = run(create_identity(backend, "erin", NOW, pq=False))
    root, store, _ = run(seal_to_blocks(backend, b"mixed", people["alice"], [people["bob"].public, classic.public]))
    kems = {e.recipient: e.kem for e in parse_header(root, store[root]).recipients}
    assert kems == {people["bob"].id: KEM_XWING, classic.id: KEM_X25519_SHA256, people["alice"].id: KEM_XWING}
    for who in (people["bob"], classic, people["alice"]):
        assert run(open_all(backend, root, store, who)) == b"mixed"


def test_only_the_x25519_secrets_of_every_recipient_open_nothing(backend, people):
    """Harvest now, decrypt later: someone who will one day have every X25519 secret (a quantum
    computer's work) but no ML-KEM secret cannot unwrap any entry of a default seal."""
    recipients = [people["bob"].public, people["carol"].public]
    root, store, _ = run(seal_to_blocks(backend, b"kept for years", people["alice"], recipients))
    header = run(read_header(backend, root, getter(store)))
    assert {e.kem for e in header.recipients} == {KEM_XWING}
    for who in (people["alice"], people["bob"], people["carol"]):
        x25519_only = Identity(who.public, who.sig_private, who.enc_private, pq_private=None)
        with pytest.raises(errors.KeyUnwrapError):
            run(unwrap_content_key(backend, x25519_only, header.recipient_entry(who.id), header.raw["commitment"]))
        # nor does treating the entry as an X25519 one: its enc is no X25519 share
        entry = header.recipient_entry(who.id)
        with pytest.raises(errors.KeyUnwrapError):
            run(unwrap_content_key(backend, x25519_only, dataclasses.replace(entry, kem=KEM_X25519_SHA256),
                                   header.raw["commitment"]))


def test_the_signed_header_binds_each_entrys_kem(backend, people):
    """Stripping the kem (or an entry's X-Wing wrap) from a header breaks its signature."""
    root, store, _ = run(seal_to_blocks(backend, b"x", people["alice"], [people["bob"].public]))
    header = codec.decode_map(store[root], KIND)
    unsigned = {k: v for k, v in header.items() if k != "sig"}
    unsigned["recipients"] = [{k: v for k, v in e.items() if k != "kem"} for e in header["recipients"]]
    forged = codec.encode({**unsigned, "sig": header["sig"]})
    forged_root = cid_bytes(DAG_CBOR, forged)
    with pytest.raises((errors.SignatureError, errors.EnvelopeFormatError)):
        run(read_header(backend, forged_root, getter({forged_root: forged})))
