"""MeshKit.connect: two people (two homes) through a real `meshkit serve` (the
meshkit_gateway fixture app developers get), and the CLI on the same homes."""

import subprocess
import sys

import pytest

from meshkit_web import MeshKit, MeshKitError
from meshkit_web.testing import run


def meshkit(home, *args, stdin=None):
    done = subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home), *map(str, args)],
                          capture_output=True, text=True, input=stdin, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_share_open_revoke_and_recover_across_homes(meshkit_gateway, tmp_path):
    url = meshkit_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as alice, \
                MeshKit.connect(url, home=tmp_path / "bob") as bob:
            a = await alice.identity.create("alice", device_name="alice-laptop")
            b = await bob.identity.create("bob")
            told = []
            alice.on_change(told.append)
            mine = await alice.seal(b"alice's notes", from_="alice", name="notes.txt")
            for_bob = await alice.seal(b"for bob", from_="alice", to=b.account, name="bob.txt")
            assert for_bob.to == (b.account,)
            # whose keys an id turned out to be is said, once, the first time it is looked up
            assert told == [{"type": "resolved", "id": b.account, "name": "bob", "fingerprint": b.account_fingerprint,
                             "account": True}]
            assert await (await bob.open(for_bob.root, as_="bob")).read() == b"for bob"
            with pytest.raises(MeshKitError) as refused:
                await bob.open(mine.root, as_="bob")
            assert refused.value.code == "not_recipient"

            share = await alice.share(mine.root, from_="alice", to=b.account, expires="1h")
            assert share.account and len(share.capsules) == 2  # bob's device and his recovery key
            inbox = await bob.inbox("bob")
            assert mine.root in {m.root for m in inbox if m.kind == "share"}
            assert await (await bob.open(mine.root, as_="bob")).read() == b"alice's notes"
            assert set(await alice.revoke(mine.root, from_="alice", to=b.account)) == set(share.capsules)
            with pytest.raises(MeshKitError) as revoked:
                await bob.open(mine.root, as_="bob")
            assert revoked.value.code in ("revoked", "not_recipient")

            # an app message, its sender's account said (verified through the account's chain)
            await alice.messages.send(b.account, "hello bob", from_="alice", kind="app-chat")
            (message,) = await bob.messages.list("bob", kind="app-chat")
            assert (message.sender, message.sender_account) == (a.id, a.account)
            read = await bob.messages.read("bob", message.id)
            assert (read.text, read.sender_account) == ("hello bob", a.account)

            # alice loses this machine: her phrase alone brings back what she sealed "to me"
            phrase = a.recovery_phrase
            # a contact added on one device is in the account's library: the next device has it
            await alice.contacts.add(await bob.identity.record("bob"))
        async with MeshKit.connect(url, home=tmp_path / "alice-new") as again:
            back = await again.identity.recover("laptop", phrase)
            assert back.account == a.account and back.restored >= 1
            assert await (await again.open(mine.root, as_="laptop")).read() == b"alice's notes"
            assert {d.name for d in await again.devices.list("laptop")} == {"alice-laptop", "laptop"}
            library = await again.library("laptop")
            assert [c.id for c in library.contacts] == [b.id]
            assert b.id in {c.id for c in await again.contacts.list()}
    run(go())


def test_the_cli_and_python_share_a_home(meshkit_gateway, tmp_path):
    home, url = tmp_path / "home", meshkit_gateway.url
    plain = tmp_path / "report.txt"
    plain.write_text("quarterly numbers")

    async def make():
        async with MeshKit.connect(url, home=home) as kit:
            await kit.identity.create("alice")
    run(make())
    listed = meshkit(home, "identity", "list")
    assert listed.split("\t")[0] == "alice"
    root = meshkit(home, "seal", plain, "--from", "alice", "--gateway", url).strip().splitlines()[-1]

    async def read():
        async with MeshKit.connect(url, home=home) as kit:
            opened = await kit.open(root, as_="alice")
            return opened.name, await opened.read(), [e.root for e in await kit.envelopes("alice")]
    assert run(read()) == ("report.txt", b"quarterly numbers", [root])


def test_offline_kit_reads_and_writes_car_files(tmp_path):
    async def go():
        kit = MeshKit.offline(tmp_path / "home")
        await kit.identity.create("alice", account=False)
        sealed = await kit.seal(b"offline", from_="alice", car=tmp_path / "e.car")
        opened = await kit.open(as_="alice", car=tmp_path / "e.car")
        assert (opened.root, await opened.read()) == (sealed.root, b"offline")
        with pytest.raises(MeshKitError) as needs:
            await kit.share(sealed.root, from_="alice", to="bob")
        assert needs.value.code == "invalid_argument"
        await kit.close()
    run(go())
