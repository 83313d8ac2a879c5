"""X-Wing (MLKEM768-X25519, HPKE KEM 0x647A) in Chromium's WebCrypto, against CPython's
(meshkit_web/crypto/xwing.py: pyca's ML-KEM + libsodium): the same seed gives the same public
key, an HPKE wrap made on either side opens on the other; the identity store keeps a hybrid
identity's X-Wing key beside the others; Chromium 156's IndexedDB cannot keep an X-Wing
CryptoKey, so its identities keep their X-Wing key as two non-extractable CryptoKeys
(ML-KEM-768 and X25519) combined as X-Wing, and what CPython and pyca's HPKE wrap to it opens
there after a reload; the runtime wraps to others' X-Wing keys (the interop matrix of FORMAT.md
3.4's ``kem``)."""

import json
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from playwright.sync_api import Page

from meshkit_web.core import codec
from meshkit_web.core.envelope import WRAP_INFO
from meshkit_web.core.errors import KeyUnwrapError
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING, Suite
from meshkit_web.crypto import xwing
from meshkit_web.crypto.nacl_backend import NaclBackend

from support.aio import run
from support.browser import call, in_page_core, ready
from support.envelopes import entry_kems
from support.meshkit_cli import published_identity

AAD = b"commitment stand-in"
PYCA = pyca_hpke.Suite(pyca_hpke.KEM.MLKEM768_X25519, pyca_hpke.KDF.HKDF_SHA256, pyca_hpke.AEAD.AES_256_GCM)

# In the page: WebCrypto's X-Wing through the backend and Core's HPKE (the same Suite as CPython)
CODE_OF = """async def code(call):  # the error code a call fails with, in the page's Python
    try:
        await call
    except MeshKitError as exc:
        return exc.code
    return "no error"
"""

XWING_PAGE_PY = """
import json
from meshkit_web.browser.webcrypto import WebCryptoBackend
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.envelope import WRAP_INFO
from meshkit_web.core.errors import KeyUnwrapError
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING, Suite

given = json.loads(given_json)
backend = await WebCryptoBackend.create()
suite = Suite(backend, kem_id=KEM_XWING)
handle, public = await backend.xwing_import_seed(bytes.fromhex(given["seed"]))
opened = await suite.open(bytes.fromhex(given["enc"]), handle, public, WRAP_INFO, bytes.fromhex(given["aad"]),
                          bytes.fromhex(given["wrapped"]))
enc, wrapped = await suite.seal(bytes.fromhex(given["cpython_public"]), WRAP_INFO, bytes.fromhex(given["aad"]),
                                b"sealed in chromium")

{CODE_OF}

# the identity store (in memory: what IndexedDB would hold where it can keep X-Wing keys)
from meshkit_web.browser.indexeddb import IdentityStore
from meshkit_web.browser.memory import MemoryStore
from meshkit_web.core.envelope import open_envelope, seal
from meshkit_web.core.identity import create_identity
store = IdentityStore(MemoryStore(), backend)
await store.save_identity(await create_identity(backend, "hybrid", 0))
await store.save_identity(await create_identity(backend, "classic", 0, pq=False))
hybrid, classic = await store.load_identity("hybrid"), await store.load_identity("classic")
blocks = {}
async for block in seal(backend, [b"to both"], sender=classic, recipients=[hybrid.public], now=0):
    blocks[block.cid] = block.data
    root = block.cid

async def get(cid):
    return blocks[cid]
envelope = await open_envelope(backend, root, get, hybrid)
stored = {"hybrid_pq": len(hybrid.public.pq_key or b""), "hybrid_key": hybrid.pq_private is not None,
          "classic_pq": classic.public.pq_key is None and classic.pq_private is None,
          "kems": sorted(entry.kem for entry in envelope.header.recipients),
          "opened": b"".join([chunk async for chunk in envelope.plaintext()]).decode()}

json.dumps({"support": backend.pq_support(), "stored": stored, "public": public.hex(), "opened": opened.hex(),
            "extractable": bool(handle.key.extractable), "algorithm": str(handle.key.algorithm.name),
            "enc": enc.hex(), "wrapped": wrapped.hex(),
            "short_key": await code(backend.xwing_encapsulate(public[:-1])),
            "short_ct": await code(backend.xwing_decapsulate(handle, bytes(1119))),
            "bad_mlkem": await code(backend.xwing_encapsulate(b"\\xff" * 1184 + public[1184:])),
            "low_x25519": await code(backend.xwing_encapsulate(public[:1184] + bytes(32))),
            "low_ct": await code(backend.xwing_decapsulate(handle, bytes.fromhex(given["enc"])[:1088] + bytes(32))),
            "bad_seed": await code(backend.xwing_import_seed(bytes(31)))})
"""


def _in_page(page: Page, code: str, given: dict) -> dict:
    return call(page, """
      meshkitPy.globals.set('given_json', arg.given);
      return JSON.parse(await meshkitPy.runPythonAsync(arg.code));""",
                {"code": code.replace("{CODE_OF}", CODE_OF), "given": json.dumps(given)})


VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "xwing-v1.json").read_text())
VECTORS_PAGE_PY = """
import json
from meshkit_web.browser.webcrypto import WebCryptoBackend
from meshkit_web.core.hpke import KEM_XWING, Suite

given = json.loads(given_json)
backend = await WebCryptoBackend.create()
kem = []
for v in given["kem"]:
    handle, public = await backend.xwing_import_seed(bytes.fromhex(v["sk"]))
    kem.append([public.hex() == v["pk"], (await backend.xwing_decapsulate(handle, bytes.fromhex(v["ct"]))).hex() == v["ss"]])
hpke = []
for v in given["hpke"]:
    handle, public = await backend.xwing_import_seed(bytes.fromhex(v["seed"]))
    opened = await Suite(backend, kem_id=KEM_XWING).open(bytes.fromhex(v["enc"]), handle, public, bytes.fromhex(v["info"]),
                                                         bytes.fromhex(v["aad"]), bytes.fromhex(v["ct"]))
    hpke.append(opened.hex() == v["pt"])
json.dumps({"kem": kem, "hpke": hpke})
"""


def test_the_x_wing_vectors_hold_in_chromium(page: Page):
    """The vector file CPython's tests read (tests/vectors/xwing-v1.json: the X-Wing authors' KEM
    vectors, pyca's HPKE wraps) holds in Chromium's WebCrypto too."""
    ready(page)
    in_page_core(page)
    got = _in_page(page, VECTORS_PAGE_PY, {"kem": VECTORS["kem"]["vectors"], "hpke": VECTORS["hpke"]["vectors"]})
    assert got == {"kem": [[True, True]] * len(VECTORS["kem"]["vectors"]),
                   "hpke": [True] * len(VECTORS["hpke"]["vectors"])}, got


def test_xwing_in_webcrypto_agrees_with_cpython_both_ways(page: Page):
    """A seed imported with raw-seed gives CPython's public key; a wrap CPython sealed to it
    opens in Chromium, and Chromium's wrap to a CPython key opens on CPython."""
    seed, cpython_key = os.urandom(32), xwing.generate()
    expected_public = xwing.XWingKey(seed).public
    enc, wrapped = run(Suite(NaclBackend(), kem_id=KEM_XWING).seal(expected_public, WRAP_INFO, AAD,
                                                                   b"sealed on cpython"))
    ready(page)
    in_page_core(page)
    got = _in_page(page, XWING_PAGE_PY, {"seed": seed.hex(), "enc": enc.hex(), "wrapped": wrapped.hex(),
                                         "aad": AAD.hex(), "cpython_public": cpython_key.public.hex()})
    assert "error" not in got, got
    assert got["support"] == {"keys": True, "seed": True, "encapsulate": True}, got
    assert bytes.fromhex(got["public"]) == expected_public and len(expected_public) == 1216
    assert bytes.fromhex(got["opened"]) == b"sealed on cpython"
    assert got["extractable"] is False and got["algorithm"] == "MLKEM768-X25519", got
    assert len(bytes.fromhex(got["enc"])) == 1120
    back = run(Suite(NaclBackend(), kem_id=KEM_XWING).open(bytes.fromhex(got["enc"]), cpython_key, cpython_key.public,
                                                           WRAP_INFO, AAD, bytes.fromhex(got["wrapped"])))
    assert back == b"sealed in chromium"
    assert (got["short_key"], got["short_ct"], got["bad_seed"]) == ("unwrap_failed", "unwrap_failed",
                                                                     "invalid_argument"), got
    # what CPython refuses, refused the same way: an ML-KEM key failing FIPS 203's modulus check,
    # a low-order X25519 share in a public key or in a ciphertext
    for bad in (b"\xff" * 1184 + expected_public[1184:], expected_public[:1184] + bytes(32)):
        with pytest.raises(KeyUnwrapError):
            xwing.encapsulate(bad)
    assert (got["bad_mlkem"], got["low_x25519"], got["low_ct"]) == ("unwrap_failed",) * 3, got
    # a hybrid identity's X-Wing key is kept and loaded back with it (a classic one's row has none)
    assert got["stored"] == {"hybrid_pq": 1216, "hybrid_key": True, "classic_pq": True,
                             "kems": [KEM_X25519_SHA256, KEM_XWING], "opened": "to both"}, got["stored"]


# Whether Chromium's IndexedDB keeps an X-Wing CryptoKey, independent of the app (Chromium 156:
# a put with an in-line key fails with DataError, an out-of-line one reads back as null). The
# runtime's own probe decides from the same fact; when Chromium changes, update this.
XWING_STORABLE = False

PROBE_JS = """
  const name = 'MLKEM768-X25519';
  const pair = await crypto.subtle.generateKey({name}, false, ['encapsulateBits', 'decapsulateBits']);
  const get = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('xwing-probe', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('keys'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  try {
    await get(db.transaction('keys', 'readwrite').objectStore('keys').put({key: pair.privateKey}, 1));
    const back = await get(db.transaction('keys').objectStore('keys').get(1));
    return {storable: Boolean(back && back.key && back.key.algorithm.name === name)};
  } catch (e) { return {storable: false, why: e.name}; } finally { db.close(); }"""

ROW_KEYS_JS = """
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('meshkit'); r.onsuccess = () => ok(r.result); r.onerror = fail; });
  const row = await new Promise((ok, fail) => { const r = db.transaction('identities').objectStore('identities').get(arg); r.onsuccess = () => ok(r.result); r.onerror = fail; });
  db.close();
  const out = {fields: Object.keys(row).sort()};
  for (const field of ['pq_private', 'pq_mlkem', 'pq_x25519']) {  // the X-Wing key, in either form
    const key = row[field];
    if (!key) continue;
    const seen = {isKey: key instanceof CryptoKey, type: key.type, algorithm: key.algorithm.name,
                  extractable: key.extractable, usages: [...key.usages], exports: []};
    for (const format of ['raw-seed', 'raw-private', 'pkcs8', 'jwk', 'raw-public', 'raw']) {
      try { await crypto.subtle.exportKey(format, key); seen.exports.push(format + ':exported'); }
      catch (e) { seen.exports.push(format + ':' + e.name); }
    }
    out[field] = seen;
  }
  return out;"""


def _assert_non_extractable(seen: dict, algorithm: str, usages: list) -> None:
    assert seen["isKey"] is True and seen["type"] == "private" and seen["algorithm"] == algorithm, seen
    assert seen["extractable"] is False and seen["usages"] == usages, seen
    assert len(seen["exports"]) == 6 and not any(e.endswith(":exported") for e in seen["exports"]), seen


def test_chromium_identities_keep_their_xwing_key_as_two_non_extractable_cryptokeys(page: Page):
    """Chromium's IndexedDB drops an X-Wing CryptoKey (the probe below says so, independent of
    the app) but keeps ML-KEM-768 and X25519 ones: an identity made there publishes a real
    X-Wing key, and its row holds it as two non-extractable CryptoKeys, which no format exports;
    capabilities().post_quantum says so in plain words."""
    ready(page)
    probe = call(page, PROBE_JS)
    assert probe["storable"] is XWING_STORABLE, f"Chromium's IndexedDB changed for X-Wing keys: {probe}"
    caps = call(page, "return await meshkit.capabilities();")
    report = caps["post_quantum"]
    assert "MLKEM768-X25519" in caps["keys"]["native"], caps["keys"]
    assert report["keys"] == "x-wing" and report["wrap_to_hybrid"] is True and "because" not in report, report
    call(page, "return await meshkit.identity.create('pq-owner');")
    record = call(page, "return await meshkit.identity.record('pq-owner');")
    pq_key = codec.b64d(record["pq_key"])
    assert len(pq_key) == 1216, record
    # X-Wing's X25519 part is a key of its own, never the identity's enc_key
    assert pq_key[1184:] != codec.b64d(record["enc_key"])
    # a valid X-Wing public key to any sender: CPython (pyca's ML-KEM, FIPS 203's check) wraps to it
    assert len(xwing.encapsulate(pq_key)[1]) == 1120
    row = call(page, ROW_KEYS_JS, "pq-owner")
    if XWING_STORABLE:  # one MLKEM768-X25519 CryptoKey, as the store's probe decides
        assert row["fields"] == ["enc_private", "id", "name", "pq_private", "record", "sig_private"], row
        _assert_non_extractable(row["pq_private"], "MLKEM768-X25519", ["decapsulateBits"])
        return
    assert "ML-KEM-768" in caps["keys"]["native"], caps["keys"]
    assert "two non-extractable CryptoKeys (ML-KEM-768 and X25519) in IndexedDB, combined as X-Wing" in \
        report["detail"], report
    assert row["fields"] == ["enc_private", "id", "name", "pq_mlkem", "pq_x25519", "record", "sig_private"], row
    _assert_non_extractable(row["pq_mlkem"], "ML-KEM-768", ["decapsulateBits"])
    _assert_non_extractable(row["pq_x25519"], "X25519", ["deriveBits"])


# In the page, with the real IndexedDB store: make a hybrid identity and save it ("create"),
# then, after a reload, load it and open what pyca's HPKE wrapped to its X-Wing key ("open")
STORE_PAGE_PY = """
import json
from meshkit_web.browser.indexeddb import IdentityStore, IndexedDBStore
from meshkit_web.browser.webcrypto import WebCryptoBackend, XWingPartsHandle
from meshkit_web.core.envelope import WRAP_INFO
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.hpke import KEM_XWING, Suite
from meshkit_web.core.identity import create_identity

given = json.loads(given_json)
backend = await WebCryptoBackend.create()
store = IdentityStore(await IndexedDBStore.open(), backend)

{CODE_OF}

if given["step"] == "create":
    made = await create_identity(backend, "pyca-peer", 0)
    await store.save_identity(made)
    out = {"pq_key": made.public.pq_key.hex(), "parts": isinstance(made.pq_private, XWingPartsHandle)}
else:
    me = await store.load_identity("pyca-peer")
    suite, enc, aad = Suite(backend, kem_id=KEM_XWING), bytes.fromhex(given["enc"]), bytes.fromhex(given["aad"])
    ct = bytes.fromhex(given["ct"])
    bad_mlkem = bytes([enc[0] ^ 1]) + enc[1:]  # implicit rejection: another secret, so the wrap fails
    mine_enc, mine = await suite.seal(me.public.pq_key, WRAP_INFO, aad, b"sealed natively")
    out = {"parts": isinstance(me.pq_private, XWingPartsHandle),
           "opened": (await suite.open(enc, me.pq_private, me.public.pq_key, WRAP_INFO, aad, ct)).hex(),
           "native_to_parts": (await suite.open(mine_enc, me.pq_private, me.public.pq_key, WRAP_INFO, aad,
                                                mine)).decode(),
           "bad_mlkem": await code(suite.open(bad_mlkem, me.pq_private, me.public.pq_key, WRAP_INFO, aad, ct)),
           "low_x25519": await code(backend.xwing_decapsulate(me.pq_private, enc[:1088] + bytes(32))),
           "short_ct": await code(backend.xwing_decapsulate(me.pq_private, enc[:-1]))}
json.dumps(out)
"""


def test_what_pycas_hpke_wraps_to_a_stored_chromium_key_opens_after_a_reload(page: Page):
    """The X-Wing key kept as two parts decapsulates as X-Wing: pyca's HPKE (an outside
    implementation) wraps to the public key a Chromium identity published, and after a page
    reload the key loaded from IndexedDB opens it; what Chromium's native X-Wing encapsulates
    to it opens too; a tampered, low-order or short ciphertext is refused as CPython refuses it."""
    ready(page)
    in_page_core(page)
    made = _in_page(page, STORE_PAGE_PY, {"step": "create"})
    assert "error" not in made, made
    assert made["parts"] is not XWING_STORABLE, made
    public = bytes.fromhex(made["pq_key"])
    recipient = pyca_hpke.MLKEM768X25519PublicKey(mlkem.MLKEM768PublicKey.from_public_bytes(public[:1184]),
                                                   x25519.X25519PublicKey.from_public_bytes(public[1184:]))
    key = os.urandom(32)
    sealed = rust_openssl.hpke._encrypt_with_aad(PYCA, key, recipient, info=WRAP_INFO, aad=AAD)
    page.reload()
    ready(page)
    in_page_core(page)
    got = _in_page(page, STORE_PAGE_PY, {"step": "open", "enc": sealed[:1120].hex(), "ct": sealed[1120:].hex(),
                                         "aad": AAD.hex()})
    assert "error" not in got, got
    assert got["parts"] is not XWING_STORABLE and bytes.fromhex(got["opened"]) == key, got
    assert got["native_to_parts"] == "sealed natively", got
    assert (got["bad_mlkem"], got["low_x25519"], got["short_ct"]) == ("unwrap_failed",) * 3, got


def test_cpython_and_chromium_seal_to_each_other(page: Page, cli, app_server, tmp_path):
    """Chromium seals to a hybrid CLI (CPython) identity with X-Wing (kem 0x647A) and the CLI
    opens it; CPython seals to the Chromium identity's own record with X-Wing too (its key is
    kept, as two parts in Chromium 156) and, after a page reload, Chromium opens it with the
    key it stored; so does what the CLI seals to it."""
    url = app_server.url
    ready(page)
    web = call(page, "return await meshkit.identity.create('pq-web');")
    cpython = published_identity(cli, "pq-cli", url)
    assert "pq_key" in cpython
    call(page, "return await meshkit.contacts.add(arg);", json.dumps(cpython))
    web_record = call(page, "return await meshkit.identity.record('pq-web');")
    record = tmp_path / "pq-web.json"
    record.write_text(json.dumps(web_record))
    cli("contact", "add", record)

    sealed = call(page, "return await meshkit.seal('from chromium', {from: 'pq-web', to: [arg], name: 'c.txt'});",
                  cpython["id"])
    assert entry_kems(url, sealed["root"])[cpython["id"]] == KEM_XWING
    out = tmp_path / "from-chromium.txt"
    cli("open", sealed["root"], "--as", "pq-cli", "--out", out, "--gateway", url)
    assert out.read_text() == "from chromium"

    plain = tmp_path / "from-cpython.txt"
    plain.write_text("from the cli")
    # the CLI seals to the person: their account's device certificate lists the Chromium
    # device's X-Wing key, and the account's recovery key is hybrid too (derived from the phrase)
    from_cli = cli("seal", plain, "--from", "pq-cli", "--to", web["id"], "--gateway", url).stdout.split()[-1]
    kems = entry_kems(url, from_cli)
    assert kems[cpython["id"]] == kems[web["id"]] == kems[web["account"] + ".recovery"] == KEM_XWING, kems
    direct = run(_seal_on_cpython(url, web_record, b"from cpython, to the device"))
    assert entry_kems(url, direct)[web["id"]] == KEM_XWING  # sealed to the Chromium identity's X-Wing key
    page.reload()  # the key comes back from IndexedDB
    ready(page)
    opened = [call(page, "const {blob} = await meshkit.open(arg, {as: 'pq-web'}); return await blob.text();", root)
              for root in (direct, from_cli)]
    assert opened == ["from cpython, to the device", "from the cli"], opened


async def _seal_on_cpython(url: str, record: dict, plain: bytes) -> str:
    """A new hybrid CPython identity (PyNaCl + pyca) seals ``plain`` to the identity ``record``
    is, through the real gateway: the root CID."""
    from meshkit_web.clients.gateway import GatewayClient
    from meshkit_web.core.cid import cid_str
    from meshkit_web.core.identity import create_identity, record_from_json
    backend = NaclBackend()
    sender = await create_identity(backend, "pq-sender", int(time.time()))
    async with GatewayClient(url, backend, sender) as client:
        await client.publish()
        root = await client.seal_upload([plain], recipients=[await record_from_json(backend, record)])
    return cid_str(root)


def test_a_hybrid_contact_is_not_replaced_by_a_classic_record_of_it(page: Page, app_server):
    """The browser's contacts.add refuses a record of a kept hybrid contact without its X-Wing
    key (an older classic record of the same identity, validly self-signed): identity_mismatch,
    and what is sealed to the contact afterwards is still X-Wing; as the CPython home does
    (tests/security/test_sec_pq_downgrade.py)."""
    backend = NaclBackend()

    async def records():
        from meshkit_web.core.identity import create_identity, make_identity
        hybrid = await create_identity(backend, "bob", 0)
        classic = await make_identity(backend, "bob", 0, hybrid.sig_private, hybrid.public.sig_key,
                                      hybrid.enc_private, hybrid.public.enc_key)
        return hybrid.public.to_json(), classic.public.to_json()
    hybrid, classic = run(records())
    assert classic["id"] == hybrid["id"] and "pq_key" not in classic
    ready(page)
    got = call(page, """
      const code = async (f) => { try { await f(); return "ok"; } catch (e) { return e.code; } };
      await meshkit.identity.create('alice-pq');
      const added = await code(() => meshkit.contacts.add(JSON.stringify(arg.hybrid)));
      const replaced = await code(() => meshkit.contacts.add(JSON.stringify(arg.classic)));
      const sealed = await meshkit.seal('to bob', {from: 'alice-pq', to: [arg.hybrid.id], name: 'b.txt'});
      return {added, replaced, root: sealed.root};""", {"hybrid": hybrid, "classic": classic})
    assert (got["added"], got["replaced"]) == ("ok", "identity_mismatch"), got
    assert entry_kems(app_server.url, got["root"])[hybrid["id"]] == KEM_XWING
