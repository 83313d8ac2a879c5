"""The browser runtime in real Chromium (Pyodide + WebCrypto + IndexedDB) against the real
gateway: persistent non-extractable identities, interop with the CLI both ways, a gateway
that lies, two users sharing and revoking, and the memory-only fallback."""

import json
import os
import time

import pytest
from playwright.sync_api import Page

from support.browser import RANDOM_BYTES_JS, call, in_page_core, ready
from support.constants import BOOT_TIMEOUT, TESTS


def test_identity_survives_reload_and_its_keys_cannot_be_exported(page: Page):
    ready(page)
    made = call(page, "return await meshkit.identity.create('owner');")
    assert made["name"] == "owner" and made["id"].startswith("mk") and made["published"] is True
    page.reload()
    ready(page)
    listed = call(page, "return await meshkit.identity.list();")
    # one shape for an identity, whichever method answers (create adds what only it knows)
    shape = ("name", "id", "fingerprint", "account", "accountFingerprint", "accountVersion", "recoveryKit")
    assert listed == [{key: made[key] for key in shape}]
    assert set(made) == set(shape) | {"published", "recoveryPhrase"}
    assert made["account"].startswith("mk") and made["account"] != made["id"] and made["accountFingerprint"] and made["accountVersion"] == 1
    assert call(page, "return await meshkit.identity.record('owner');")["id"] == made["id"]
    # the CryptoKeys as IndexedDB holds them: non-extractable, every export format refused
    keys = call(page, """
      const db = await new Promise((ok, fail) => { const r = indexedDB.open('meshkit'); r.onsuccess = () => ok(r.result); r.onerror = fail; });
      const row = await new Promise((ok, fail) => { const r = db.transaction('identities').objectStore('identities').get('owner'); r.onsuccess = () => ok(r.result); r.onerror = fail; });
      const out = {};
      for (const field of ['sig_private', 'enc_private', 'pq_mlkem', 'pq_x25519']) {
        const key = row[field];
        out[field] = {type: key.type, extractable: key.extractable, algorithm: key.algorithm.name, exports: []};
        for (const format of ['raw', 'pkcs8', 'jwk', 'spki']) {
          try { await crypto.subtle.exportKey(format, key); out[field].exports.push(format + ':exported'); }
          catch (e) { out[field].exports.push(format + ':' + e.name); }
        }
      }
      out.rowFields = Object.keys(row).sort();
      return out;""")
    # the X-Wing key as its two parts: Chromium's IndexedDB cannot keep an MLKEM768-X25519 CryptoKey
    for field, algorithm in (("sig_private", "Ed25519"), ("enc_private", "X25519"), ("pq_mlkem", "ML-KEM-768"),
                             ("pq_x25519", "X25519")):
        assert keys[field]["type"] == "private" and keys[field]["extractable"] is False
        assert keys[field]["algorithm"] == algorithm
        assert not any(e.endswith(":exported") for e in keys[field]["exports"]), keys[field]
    assert keys["rowFields"] == ["enc_private", "id", "name", "pq_mlkem", "pq_x25519", "record", "sig_private"]


def test_identity_survives_a_browser_restart(browser_type, browser_type_launch_args, base_url, tmp_path):
    profile = tmp_path / "profile"
    ids = []
    for attempt in range(2):
        context = browser_type.launch_persistent_context(str(profile), base_url=base_url, **browser_type_launch_args)
        try:
            page = context.new_page()
            ready(page)
            if attempt == 0:
                call(page, "return await meshkit.identity.create('restart-me');")
            ids.append(call(page, "return await meshkit.identity.list();"))
        finally:
            context.close()
    assert ids[0] == ids[1] and ids[0][0]["name"] == "restart-me"


def _cli_identity(cli, name):
    cli("identity", "create", name)
    return json.loads(cli("identity", "show", name).stdout)


def test_browser_and_cli_open_each_others_envelopes(page: Page, cli, app_server, tmp_path):
    url = app_server.url
    ready(page)
    browser_user = call(page, "return await meshkit.identity.create('web-alice');")
    cli_user = _cli_identity(cli, "cli-bob")
    cli("identity", "publish", "cli-bob", "--gateway", url)
    added = call(page, "return await meshkit.contacts.add(arg);", json.dumps(cli_user))
    assert added["id"] == cli_user["id"] and added["fingerprint"] == cli_user["fingerprint"]
    record = tmp_path / "web-alice.json"
    record.write_text(json.dumps(call(page, "return await meshkit.identity.record('web-alice');")))
    cli("contact", "add", record)

    size = 3 * (1 << 20) + 12345  # several segments and an odd tail
    sealed = call(page, RANDOM_BYTES_JS + """
      const env = await meshkit.seal(new Blob([data]), {from: 'web-alice', to: [arg.to], name: 'photo.bin'});
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
      return {env, digest: Array.from(digest)};""", {"size": size, "to": cli_user["id"]})
    assert sealed["env"]["size"] == size and sealed["env"]["root"].startswith("bafy")
    out = tmp_path / "from-browser.bin"
    cli("open", sealed["env"]["root"], "--as", "cli-bob", "--out", out, "--gateway", url)
    import hashlib
    assert list(hashlib.sha256(out.read_bytes()).digest()) == sealed["digest"] and out.stat().st_size == size

    plain = tmp_path / "from-cli.bin"
    plain.write_bytes(os.urandom(2 * (1 << 20) + 777))
    root = cli("seal", plain, "--from", "cli-bob", "--to", browser_user["id"], "--gateway", url).stdout.split()[-1]
    opened = call(page, """
      const o = await meshkit.open(arg, {as: 'web-alice'});
      const bytes = new Uint8Array(await o.blob.arrayBuffer());
      return {size: o.size, sender: o.sender, digest: Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))};""",
                  root)
    assert opened["size"] == plain.stat().st_size and opened["sender"] == cli_user["id"]
    assert opened["digest"] == list(hashlib.sha256(plain.read_bytes()).digest())


@pytest.mark.parametrize("path", ["streamed-car", "block-by-block"])
def test_gateway_returning_wrong_bytes_is_caught_before_decryption(page: Page, path):
    """A whole open reads one streamed CAR; a CAR refused makes it go on block by block.
    One flipped byte of a segment, on either path, is a cid_mismatch before decryption."""
    ready(page)
    sealed = call(page, RANDOM_BYTES_JS + """
      await meshkit.identity.create('victim');
      return await meshkit.seal(data, {from: 'victim', name: 'x'});""", {"size": 3 * (1 << 20)})
    tampered, cars = [], []

    def flip_one_byte(route):
        url = route.request.url
        if "format=car" in url:
            cars.append(url)
            if path == "block-by-block":
                return route.fulfill(status=404, body="")
        elif "format=raw" not in url or sealed["root"] in url or path == "streamed-car":
            return route.continue_()
        if tampered:
            return route.continue_()
        reply = route.fetch()
        body = bytearray(reply.body())
        body[len(body) // 2] ^= 0x01
        tampered.append(url)
        route.fulfill(response=reply, body=bytes(body))
    page.route("**/ipfs/**", flip_one_byte)
    result = call(page, """
      let furthest = 0;
      const out = await meshkit.open(arg, {as: 'victim', onProgress: (done) => { furthest = done; }});
      return {opened: true, furthest};""", sealed["root"])
    assert len(cars) == 1, cars
    assert tampered, "the route saw a segment request"
    assert result["error"] == "cid_mismatch", result
    assert "opened" not in result


def test_two_users_share_open_revoke_and_expire(two_users):
    alice, bob = two_users
    ready(alice)
    ready(bob)
    bob_made = call(bob, "return await meshkit.identity.create('bob2');")
    bob_record = call(bob, "return await meshkit.identity.record('bob2');")
    call(alice, "return await meshkit.identity.create('alice2');")
    call(alice, "return await meshkit.contacts.add(arg);", json.dumps(bob_record))
    env = call(alice, RANDOM_BYTES_JS + """
      const env = await meshkit.seal(data, {from: 'alice2', name: 'plans.bin'});
      globalThis.original = data;
      return env;""", {"size": (1 << 20) + 99})
    # not shared yet: bob cannot open
    assert call(bob, "return await meshkit.open(arg, {as: 'bob2'});", env["root"])["error"] == "not_recipient"
    share = call(alice, "return await meshkit.share(arg.root, {from: 'alice2', to: arg.to});",
                 {"root": env["root"], "to": bob_record["id"]})
    # bob has an account: the share reaches it (his device and his recovery key)
    assert share["to"] == bob_made["account"] and share["capsule"].startswith("bafy")
    assert len(share["capsules"]) == 2
    inbox = call(bob, "return await meshkit.inbox('bob2');")
    assert [m["share"]["root"] for m in inbox if m["kind"] == "share"] == [env["root"]]
    first = call(bob, """const o = await meshkit.open(arg, {as: 'bob2'});
                         return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await o.blob.arrayBuffer())));""",
                 env["root"])
    expected = call(alice, "return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', globalThis.original)));")
    assert first == expected
    revoked = call(alice, "return await meshkit.revoke(arg.root, {from: 'alice2', to: arg.to});",
                   {"root": env["root"], "to": bob_record["id"]})
    assert sorted(revoked["revoked"]) == sorted(share["capsules"])
    assert call(bob, "return await meshkit.open(arg, {as: 'bob2'});", env["root"])["error"] == "revoked"

    # a share that expires: opens now, fails closed once expired
    env2 = call(alice, "return await meshkit.seal(new Uint8Array([1,2,3]), {from: 'alice2', name: 'brief'});")
    call(alice, "return await meshkit.share(arg.root, {from: 'alice2', to: arg.to, expires: arg.expires});",
         {"root": env2["root"], "to": bob_record["id"], "expires": int(time.time()) + 3})
    assert call(bob, "const o = await meshkit.open(arg, {as: 'bob2'}); return o.size;", env2["root"]) == 3
    time.sleep(4)
    assert call(bob, "return await meshkit.open(arg, {as: 'bob2'});", env2["root"])["error"] == "expired"


@pytest.mark.parametrize("how", ["missing", "throws"])
def test_without_indexeddb_the_report_says_memory_only(browser, base_url, how):
    context = browser.new_context(base_url=base_url)
    if how == "missing":
        context.add_init_script("delete globalThis.indexedDB; Object.defineProperty(globalThis, 'indexedDB', {value: undefined});")
    else:  # storage blocked by policy: open() throws SecurityError
        context.add_init_script("IDBFactory.prototype.open = function () { throw new DOMException('blocked', 'SecurityError'); };")
    try:
        page = context.new_page()
        ready(page)
        # the init script reaches pages, not workers: Core on this page's thread (thread: "page")
        # sees what the page sees
        caps = call(page, """const base = new URL("../", document.querySelector('script[data-meshkit="app"]').src);
                             const { createMeshKit } = await import(new URL("meshkit.js", base).href);
                             globalThis.inPage = await createMeshKit({thread: "page", namespace: "no-indexeddb"});
                             return await inPage.capabilities();""")
        assert caps["persistence"]["mode"] == "memory" and caps["thread"] == "page", caps
        assert caps["key_storage"]["mode"] == "non-extractable"
        result = call(page, """await inPage.identity.create('ephemeral');
                               const env = await inPage.seal(new Uint8Array([7, 7, 7]), {from: 'ephemeral'});
                               const o = await inPage.open(env.root, {as: 'ephemeral'});
                               return Array.from(new Uint8Array(await o.blob.arrayBuffer()));""")
        assert result == [7, 7, 7]
    finally:
        context.close()


HPKE_JS = os.path.join(TESTS, "js", "node_modules", "@hpke")
ORACLE_CAPSULE_PY = """
import time
from meshkit_web.core.capsule import make_capsule
from meshkit_web.core.envelope import read_header, seal, unwrap_content_key
from meshkit_web.core.identity import create_identity, make_identity
from meshkit_web.browser.webcrypto import WebCryptoBackend

now = int(time.time())
backend = await WebCryptoBackend.create()
sharer = await create_identity(backend, "sharer", now)
# the capsule's recipient: a signed record whose X25519 key belongs to @hpke/core
sig_private, sig_key = await backend.ed25519_generate()
oracle = await make_identity(backend, "hpke-js", now, sig_private, sig_key, None, bytes(oracle_public.to_py()))
blocks = {}
async for block in seal(backend, [b"for a client no one here wrote " * 999], sender=sharer, recipients=[], now=now):
    blocks[block.cid] = block.data
    root = block.cid

async def get_block(cid):
    return blocks[cid]

capsule = await make_capsule(backend, sharer, root, get_block, oracle.public, now=now, expires=now + 3600)
header = await read_header(backend, root, get_block)
content_key = await unwrap_content_key(backend, sharer, header.recipient_entry(sharer.id), header.commitment)
{"enc": capsule.wrapped_key.enc, "wrapped": capsule.wrapped_key.wrapped, "aad": header.commitment,
 "content_key": content_key, "recipient": capsule.recipient}
"""


def test_hpke_js_opens_a_capsule_our_code_sealed(page: Page, base_url):
    """@hpke/core (npm; not ours) unwraps the content key of a capsule sealed by our Core
    with the WebCrypto backend, in the same page."""
    def serve_oracle(route):
        relative = route.request.url.split("/__oracle__/", 1)[1].split("?")[0]
        path = os.path.realpath(os.path.join(HPKE_JS, relative))
        assert path.startswith(os.path.realpath(HPKE_JS))
        route.fulfill(path=path, content_type="text/javascript")

    def with_import_map(route):
        html = route.fetch().text()
        import_map = '<script type="importmap">{"imports": {"@hpke/common": "/__oracle__/common/esm/mod.js"}}</script>'
        route.fulfill(body=html.replace("<head>", "<head>" + import_map, 1), content_type="text/html")
    page.route("**/__oracle__/**", serve_oracle)
    page.route(base_url + "/", with_import_map)
    ready(page)
    in_page_core(page)
    result = call(page, """
      const {CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes256Gcm} = await import('/__oracle__/core/esm/mod.js');
      const suite = new CipherSuite({kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm()});
      const pair = await suite.kem.generateKeyPair();
      const py = meshkitPy;
      py.globals.set('oracle_public', new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)));
      const made = (await py.runPythonAsync(arg)).toJs({dict_converter: Object.fromEntries});
      const opened = await suite.open({recipientKey: pair.privateKey, enc: made.enc,
                                       info: new TextEncoder().encode('meshkit-web/v1 content-key')},
                                      made.wrapped, made.aad);
      let tampered = 'accepted';
      try {
        const bad = made.wrapped.slice(); bad[0] ^= 1;
        await suite.open({recipientKey: pair.privateKey, enc: made.enc,
                          info: new TextEncoder().encode('meshkit-web/v1 content-key')}, bad, made.aad);
      } catch (e) { tampered = 'rejected'; }
      return {opened: Array.from(new Uint8Array(opened)), expected: Array.from(made.content_key),
              enc: made.enc.length, tampered};""", ORACLE_CAPSULE_PY)
    assert "error" not in result, result
    assert len(result["expected"]) == 32 and result["opened"] == result["expected"]
    assert result["enc"] == 32 and result["tampered"] == "rejected"


def test_a_browser_without_x25519_gets_a_clear_error_not_a_weaker_mode(browser, base_url):
    context = browser.new_context(base_url=base_url)
    context.add_init_script("""
      const generate = SubtleCrypto.prototype.generateKey;
      SubtleCrypto.prototype.generateKey = function (algorithm, ...rest) {
        if ((algorithm.name || algorithm) === 'X25519') return Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError'));
        return generate.call(this, algorithm, ...rest);
      };""")
    try:
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => document.documentElement.dataset.meshkitReady", timeout=BOOT_TIMEOUT)
        assert page.evaluate("document.documentElement.dataset.meshkitReady") == "error"
        assert page.evaluate("document.documentElement.dataset.meshkitError") == "unsupported"
        alert = page.get_by_role("alert")
        assert "lacks X25519" in alert.inner_text() and "non-extractable" in alert.inner_text()
        assert page.evaluate("typeof globalThis.meshkit") == "undefined"
    finally:
        context.close()


BLOB_SOURCE_PY = """
import hashlib, js
from meshkit_web.browser.blob_source import BlobSource, JsBytes
from meshkit_web.browser.webcrypto import WebCryptoBackend
from meshkit_web.core.envelope import open_envelope, seal
from meshkit_web.core.identity import create_identity

backend = await WebCryptoBackend.create()
me = await create_identity(backend, "blob-source", 0)
results = {}
for size in js.globalThis.sizes:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    array = js.Uint8Array.new(len(data))
    array.assign(data)
    blob = js.Blob.new([array])
    # slices of 3 segments: segments cut across slice boundaries, the last one short
    cut = [bytes(s) async for s in BlobSource(blob, slice_target=3 * 1000).segments(1000)]
    blocks = {}
    async for block in seal(backend, BlobSource(blob, slice_target=3 * 1000), sender=me, recipients=[],
                            now=0, segment_size=1000):
        blocks[block.cid] = block.data
        root = block.cid

    async def get(cid):
        return blocks[cid]
    opened = await open_envelope(backend, root, get, me)
    back = b"".join([chunk async for chunk in opened.plaintext()])
    key = await backend.aead_key(bytes(32))
    from_js = await backend.seal_segment(key, bytes(12), JsBytes(array))
    from_py = await backend.seal_segment(key, bytes(12), data)
    results[str(size)] = [b"".join(cut) == data, all(len(s) == 1000 for s in cut[:-1]), back == data,
                          from_js == from_py, len(blocks)]
results
"""


def test_a_blob_is_sealed_from_js_side_segments(page: Page):
    """BlobSource: a picked file's bytes cut into segments as views of large Blob slices,
    sealed by WebCrypto without entering Python; same ciphertext as from Python bytes."""
    ready(page)
    in_page_core(page)
    page.evaluate("globalThis.sizes = [0, 1, 999, 1000, 2999, 3000, 3001, 10500]")
    results = page.evaluate("async (code) => (await meshkitPy.runPythonAsync(code))"
                            ".toJs({dict_converter: Object.fromEntries})", BLOB_SOURCE_PY)
    for size, (cut_ok, whole_segments, round_trip, same_ciphertext, block_count) in results.items():
        assert cut_ok and whole_segments and round_trip and same_ciphertext, size
        assert block_count == max(1, -(-int(size) // 1000)) + 1, size  # segments + header


def test_core_runs_in_a_dedicated_worker_not_on_the_page(page: Page):
    """The page module is a thin proxy: Core's Pyodide lives in a dedicated worker (made from
    the meshkit-core.js bytes meshkit.js checked), the page holds no Pyodide, and a Blob
    crosses both ways (sealed from the page, opened back as a Blob)."""
    ready(page)
    state = call(page, """
      const caps = await meshkit.capabilities();
      const me = (await meshkit.identity.create('threads')).name;
      const env = await meshkit.seal(new Blob([new Uint8Array(70000).fill(9)]), {from: me});
      const opened = await meshkit.open(env.root, {as: me});
      const bytes = new Uint8Array(await opened.blob.arrayBuffer());
      return {thread: meshkit.thread, capsThread: caps.thread, pyodide: meshkit.pyodide,
              pageHasPyodide: typeof globalThis.loadPyodide !== 'undefined' || typeof globalThis.pyodide !== 'undefined',
              blob: opened.blob instanceof Blob, size: bytes.length, same: bytes.every((b) => b === 9),
              workers: performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/meshkit-core.js')).length};""")
    assert state == {"thread": "worker", "capsThread": "worker", "pyodide": None, "pageHasPyodide": False,
                     "blob": True, "size": 70000, "same": True, "workers": 1}, state


def test_proofs_are_listed_verified_and_checked_offline(page: Page):
    """proofs.list: the gateway's signed proofs of an envelope, each verified in the browser
    (who sealed it, who it was shared with); proofs.verify: a proof's bytes checked offline, a
    flipped byte refused, typed."""
    ready(page)
    got = call(page, """
      const me = (await meshkit.identity.create('prover')).name;
      const friend = (await meshkit.identity.create('prover-friend'));
      const env = await meshkit.seal(new Uint8Array([1, 2, 3]), {from: me});
      await meshkit.share(env.root, {from: me, to: friend.id});
      const proofs = await meshkit.proofs.list(env.root, {as: me});
      const again = await meshkit.proofs.verify(proofs[0].data);
      const bytes = proofs[0].data.slice();
      bytes[bytes.length - 5] ^= 1;
      let tampered = 'accepted';
      try { await meshkit.proofs.verify(bytes); } catch (e) { tampered = e.code; }
      const mine = (await meshkit.identity.list()).find((i) => i.name === me).id;
      return {statements: proofs.map((p) => p.statement).sort(), roots: [...new Set(proofs.map((p) => p.root))],
              signers: [...new Set(proofs.map((p) => p.signer))], mine, root: env.root, again: again.cid === proofs[0].cid,
              shared: proofs.filter((p) => p.statement === 'shared').map((p) => p.recipient).sort(),
              friend: [friend.id, friend.account + '.recovery'].sort(),
              tampered};""")
    assert "error" not in got, got
    assert got["statements"][0] == "sealed" and set(got["statements"]) == {"sealed", "shared"}, got
    assert got["roots"] == [got["root"]] and got["signers"] == [got["mine"]] and got["again"] is True, got
    assert got["shared"] == got["friend"], got  # to the friend's account: its device and recovery key
    assert got["tampered"] in ("bad_signature", "malformed"), got
