"""MeshKit.local: the quickstart, in-process (the gateway app over SQLite and the embedded
store under one folder), through the public API only (docs/PYTHON.md)."""

import os
import pathlib

import pytest

from meshkit_web import MeshKit, MeshKitError
from meshkit_web.testing import run
from meshkit_web.kit import Opened


def test_seal_and_open_bytes_text_files_and_streams(meshkit_local, tmp_path):
    async def go():
        async with meshkit_local as kit:
            me = await kit.identity.create("alice")
            assert me.account and me.recovery_phrase and len(me.recovery_phrase.split()) == 24
            assert me.recovery_phrase not in repr(me)  # printing a result never shows a secret

            sealed = await kit.seal(b"hello, world", from_="alice", name="hello.txt")
            opened = await kit.open(sealed.root, as_="alice")
            assert (opened.name, opened.size, opened.sender, opened.sender_name) == ("hello.txt", 12, me.id, "alice")
            assert await opened.read() == b"hello, world"
            assert await (await kit.open(sealed.root, as_="alice", range=(7, 12))).read() == b"world"

            text = await kit.seal("naïve café", from_="alice")
            assert (await (await kit.open(text.root, as_="alice")).read()).decode() == "naïve café"

            big = tmp_path / "big.bin"
            big.write_bytes(os.urandom(3 * (1 << 20) + 17))
            from_file = await kit.seal(big, from_="alice")  # a pathlib.Path: a file, streamed
            assert (from_file.name, from_file.size) == ("big.bin", big.stat().st_size)
            out = tmp_path / "out.bin"
            assert await (await kit.open(from_file.root, as_="alice")).save(out) == str(out)
            assert out.read_bytes() == big.read_bytes()
            with pytest.raises(MeshKitError) as taken:  # never over an existing file unless asked
                await (await kit.open(from_file.root, as_="alice")).save(out)
            assert taken.value.code == "invalid_argument"
            with pytest.raises(MeshKitError) as too_big:
                await (await kit.open(from_file.root, as_="alice")).read(limit=1 << 20)
            assert too_big.value.code == "invalid_argument"

            with open(big, "rb") as handle:  # a binary file object: read a segment at a time
                from_handle = await kit.seal(handle, from_="alice", name="handle.bin")
            assert from_handle.size == big.stat().st_size
            assert await (await kit.open(from_handle.root, as_="alice")).read() == big.read_bytes()
            with open(big, "r", encoding="latin-1") as text_mode, pytest.raises(MeshKitError) as not_binary:
                await kit.seal(text_mode, from_="alice")
            assert not_binary.value.code == "invalid_argument"

            async def pieces():
                for i in range(5):
                    yield bytes([i]) * 300_000
            streamed = await kit.seal(pieces(), from_="alice", name="stream.bin")
            assert streamed.size == 1_500_000  # counted as it streamed: no size was known before
            chunks = [c async for c in (await kit.open(streamed.root, as_="alice")).chunks()]
            assert b"".join(chunks) == b"".join(bytes([i]) * 300_000 for i in range(5))
            return me
    run(go())


def test_sealing_to_me_reaches_my_account_and_its_recovery_key(meshkit_local):
    """The library and the account fan-out are one implementation: "to me" wraps to every
    device of the account and to its recovery key, and the envelope is in the library."""
    async def go():
        async with meshkit_local as kit:
            me = await kit.identity.create("alice")
            sealed = await kit.seal(b"x" * 1000, from_="alice", name="x.bin")
            access = await kit.access(sealed.root, as_="alice")
            assert {me.id, me.account + ".recovery"} <= {r.id for r in access.recipients}
            assert sealed.in_library and [e.root for e in await kit.envelopes("alice")] == [sealed.root]
    run(go())


def test_bad_input_is_a_typed_error_and_nothing_is_left_half_made(meshkit_local):
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            await kit.identity.create("bob")
            sealed = await kit.seal(b"for alice only", from_="alice", to=[])
            failures = {}
            for name, call in {
                "not_recipient": kit.open(sealed.root, as_="bob"),
                "malformed": kit.open("not-a-cid", as_="alice"),
                "unknown_identity": kit.seal(b"x", from_="nobody"),
                "identity_exists": kit.identity.create("alice"),
                "bad_phrase": kit.identity.recover("carol", "one two three"),
                "invalid_argument": kit.seal(12345, from_="alice"),
            }.items():
                with pytest.raises(MeshKitError) as raised:
                    await call
                failures[name] = raised.value.code
            assert failures == {name: name for name in failures}
            with pytest.raises(MeshKitError) as outside:
                await kit.open(sealed.root, as_="alice", range=(0, 10_000))
            assert outside.value.code == "invalid_argument"
            assert [i.name for i in await kit.identity.list()] == ["alice", "bob"]  # no "carol" half-made
    run(go())


def test_one_local_store_has_one_user_at_a_time(tmp_path):
    async def go():
        async with MeshKit.local(tmp_path) as first:
            await first.identity.create("alice", account=False)
            with pytest.raises(MeshKitError) as busy:
                await MeshKit.local(tmp_path).start()
            assert busy.value.code == "in_use"
            assert oct(tmp_path.stat().st_mode & 0o777) == oct(0o700)  # whatever the umask
        async with MeshKit.local(tmp_path) as again:  # closed: the next one opens it, data kept
            assert [i.name for i in await again.identity.list()] == ["alice"]
    run(go())


def test_the_results_are_the_documented_types(meshkit_local):
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            sealed = await kit.seal(b"abc", from_="alice")
            link = await kit.send_links.create(sealed.root, from_="alice", opens=1)
            assert "#" in link.link and link.link not in repr(link)  # its secret is never printed
            described = await kit.send_links.describe(link.link)
            assert (described.size, described.opens_left) == (3, 1)
            opened = await kit.send_links.open(link.link)
            assert isinstance(opened, Opened) and await opened.read() == b"abc"
            with pytest.raises(MeshKitError) as used:
                await kit.send_links.open(link.link)
            assert used.value.code == "opens_used_up"
            (proof,) = [p for p in await kit.proofs.list(sealed.root, as_="alice") if p.statement == "sealed"]
            assert (await kit.proofs.verify(proof.data)).signer == proof.signer
            record = await kit.records.put("alice", "settings", "dark")
            assert (await kit.records.get("alice", "settings")).text == "dark" and record.version == 1
            with pytest.raises(MeshKitError) as lost:
                await kit.records.put("alice", "settings", "light", expected_version=0)
            assert lost.value.code == "conflict"
    run(go())


def test_import_for_local_use_stays_light():
    """`from meshkit_web import MeshKit` loads no server, browser or CLI module."""
    import subprocess
    import sys
    code = ("import sys; from meshkit_web import MeshKit; "
            "print(sorted(m for m in sys.modules if m.startswith(('meshkit_web.gateway', 'meshkit_web.browser', "
            "'meshkit_web.cli.', 'fastapi', 'uvicorn', 'sqlalchemy', 'tqdm')) or m == 'meshkit_web.cli'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_senders_file_name_never_chooses_where_a_file_goes(meshkit_local, tmp_path):
    """The name inside an envelope is the sender's text: save_into keeps to its folder, and
    a second file of the same name gets "(2)"."""
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            folder = tmp_path / "inbox"
            folder.mkdir()
            saved = []
            for name in ("../../escape.txt", "/etc/passwd", "a\u202eexe.txt", "..", "escape.txt"):
                sealed = await kit.seal(name.encode(), from_="alice", name=name)
                opened = await kit.open(sealed.root, as_="alice")
                assert "\u202e" not in opened.name  # told as the sender wrote it, less what could deceive
                saved.append(await opened.save_into(folder))
            assert all(pathlib.Path(p).parent == folder for p in saved), saved
            names = sorted(p.name for p in folder.iterdir())
            assert "escape (2).txt" in names and "passwd" in names and not any("\u202e" in n for n in names)
            assert not (tmp_path / "escape.txt").exists() and not list(tmp_path.parent.glob("escape*"))
    run(go())


def test_a_send_links_opens_are_checked_here(meshkit_local):
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            sealed = await kit.seal(b"x", from_="alice")
            for opens in (0, -1, 1001, 2.5, True, "3"):
                with pytest.raises(MeshKitError) as refused:
                    await kit.send_links.create(sealed.root, from_="alice", opens=opens)
                assert refused.value.code == "invalid_argument", opens
    run(go())


def test_unpin_and_delete_give_the_room_back(meshkit_local):
    """An envelope can be unpinned (it stops counting against the pin quota now, its blocks
    after the grace) or deleted: shares and send links revoked, out of the library on every
    device, and what its blocks cost given back at once."""
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            await kit.identity.create("bob")
            empty = await kit.usage(as_="alice")
            kept = await kit.seal(os.urandom(200_000), from_="alice", name="kept.bin")
            sealed = await kit.seal(os.urandom(300_000), from_="alice", name="gone.bin")
            await kit.share(sealed.root, from_="alice", to="bob")
            assert await (await kit.open(sealed.root, as_="bob")).read()
            link = await kit.send_links.create(sealed.root, from_="alice")
            before = await kit.usage(as_="alice")
            assert before.pinned > 500_000 and before.stored > before.pinned and before.gc_grace == 24 * 3600

            deleted = await kit.delete(sealed.root, as_="alice")
            assert (deleted.root, deleted.unpinned, deleted.in_library) == (sealed.root, True, True)
            assert len(deleted.revoked) >= 3  # bob's device, bob's recovery key, the send link
            after = await kit.usage(as_="alice")
            assert before.pinned - after.pinned > 290_000  # the pin quota at once
            assert deleted.released > 290_000 and before.stored - after.stored > 280_000  # storage too: no grace
            assert [e.name for e in await kit.envelopes("alice")] == ["kept.bin"]
            for attempt in (kit.open(sealed.root, as_="bob"), kit.send_links.open(link.link)):
                with pytest.raises(MeshKitError):
                    await (await attempt).read()
            again = await kit.delete(sealed.root, as_="alice")  # idempotent: nothing left to do
            assert (again.unpinned, again.revoked, again.released) == (False, (), 0)

            assert await kit.unpin(kept.root, as_="alice") == kept.root
            unpinned = await kit.usage(as_="alice")
            assert after.pinned - unpinned.pinned > 200_000
            assert unpinned.stored >= after.stored - 10_000  # its blocks count until the grace
            assert await (await kit.open(kept.root, as_="alice")).read()  # and still open meanwhile
            with pytest.raises(MeshKitError) as none:
                await kit.unpin(kept.root, as_="alice")
            assert none.value.code == "missing_metadata"
    run(go())


def test_send_links_are_listed_with_their_opens_and_are_no_people(meshkit_local):
    """kit.send_links.list: each link of a root, its opens used and state from the gateway
    (a limited one opened as often as allowed is used_up); access marks a link's share."""
    async def go():
        async with meshkit_local as kit:
            await kit.identity.create("alice")
            await kit.identity.create("bob")
            sealed = await kit.seal(b"listed", from_="alice")
            once = await kit.send_links.create(sealed.root, from_="alice", opens=1)
            always = await kit.send_links.create(sealed.root, from_="alice", expires="1d")
            await kit.share(sealed.root, from_="alice", to="bob")
            assert await (await kit.send_links.open(once.link)).read() == b"listed"
            links = {link.capsule: link for link in await kit.send_links.list(sealed.root, as_="alice")}
            assert set(links) == {once.capsule, always.capsule}
            assert (links[once.capsule].opens, links[once.capsule].opens_used, links[once.capsule].state) == (
                1, 1, "used_up")
            assert (links[always.capsule].opens, links[always.capsule].state) == (None, "live")
            assert links[always.capsule].expires == always.expires and links[always.capsule].created
            shares = (await kit.access(sealed.root, as_="alice")).shares
            assert {s.capsule for s in shares if s.link} == {once.capsule, always.capsule}
            assert [s.state for s in shares if s.capsule == once.capsule] == ["used_up"]
            assert len([s for s in shares if not s.link]) == 2  # bob's device and his recovery key
            await kit.send_links.revoke(always.capsule, from_="alice")
            assert [link.state for link in await kit.send_links.list(sealed.root, as_="alice")
                    if link.capsule == always.capsule] == ["revoked"]
    run(go())
