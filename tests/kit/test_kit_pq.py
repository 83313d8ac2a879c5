"""Post-quantum in the Python API (issue 26): identities say their suite, the access view says
each recipient's, and ``rewrap`` moves an envelope's classic entries to X-Wing without
re-encrypting its segments; the CLI's ``identity show``, ``access`` and ``rewrap`` on the
same homes. Through a real `meshkit serve`."""

import dataclasses
import subprocess
import sys

from meshkit_web import MeshKit
from meshkit_web.core.cid import parse_cid
from meshkit_web.core.envelope import read_header
from meshkit_web.testing import run


def meshkit(home, *args):
    done = subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_rewrap_moves_classic_entries_to_x_wing_and_keeps_the_segments(meshkit_gateway, tmp_path):
    url = meshkit_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as alice, \
                MeshKit.connect(url, home=tmp_path / "bob") as bob:
            a = await alice.identity.create("alice", account=False)
            b = await bob.identity.create("bob", account=False)
            assert a.suite == b.suite == "x-wing"
            client = await alice._client("alice")
            bob_public = await client.resolve(b.id)
            # an envelope sealed while bob was reached classic (before X-Wing): his entry is X25519
            old = await client.seal_upload([b"sealed long ago"], recipients=[dataclasses.replace(bob_public,
                                                                                               pq_key=None)])
            suites = {e.id: e.suite for e in (await alice.access(str_cid(old), as_="alice")).recipients}
            assert suites == {a.id: "x-wing", b.id: "x25519"}
            done = await alice.rewrap(str_cid(old), as_="alice")
            assert done.replaced == str_cid(old) != done.root
            assert {e.id: e.suite for e in done.recipients} == {a.id: "x-wing", b.id: "x-wing"}
            before = await read_header(client.backend, old, client.get_block)
            after = await read_header(client.backend, parse_cid(done.root), client.get_block)
            assert (after.segments, after.commitment, after.nonce_prefix, after.size) == (
                before.segments, before.commitment, before.nonce_prefix, before.size)
            assert await (await bob.open(done.root, as_="bob")).read() == b"sealed long ago"
            return done.root
    root = run(go())
    shown = meshkit(tmp_path / "alice", "identity", "show", "alice")
    assert "post-quantum: X-Wing (ML-KEM-768 + X25519)" in shown.stderr and '"pq_key"' in shown.stdout
    listed = meshkit(tmp_path / "alice", "access", root, "--as", "alice", "--gateway", url).stdout
    assert listed.count("post-quantum: X-Wing") == 2 and "classic X25519" not in listed


def test_rewrap_in_an_account_replaces_the_root_in_the_library_and_upgrades_the_recovery_key(meshkit_gateway,
                                                                                              tmp_path):
    from meshkit_web.clients.accounts import account_recipients, remember_sealed
    url = meshkit_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as alice:
            a = await alice.identity.create("alice")
            client = await alice._client("alice")
            record = await alice._account("alice")
            # sealed before X-Wing: every entry classic
            classic = [dataclasses.replace(p, pq_key=None) for p in account_recipients(record)]
            old = await client.seal_upload([b"notes"], recipients=classic, include_sender=False)
            assert await remember_sealed(client, record, str_cid(old), "notes.txt", 5)
            done = await alice.rewrap(str_cid(old), as_="alice")
            assert {e.id: e.suite for e in done.recipients} == {a.id: "x-wing", a.account + ".recovery": "x-wing"}
            roots = {e.root: e.name for e in (await alice.library("alice")).envelopes}
            assert roots.get(done.root) == "notes.txt" and str_cid(old) not in roots
            assert await (await alice.open(done.root, as_="alice")).read() == b"notes"
    run(go())


def str_cid(root: bytes) -> str:
    from meshkit_web.core.cid import cid_str
    return cid_str(root)
