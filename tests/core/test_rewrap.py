"""Re-wrapping (FORMAT.md 3.8, core/rewrap.py): a new header over the same segments, each
recipient in ``current`` wrapped again to its current keys, the others' entries kept byte for
byte, signed by the re-wrapper; only a header recipient can re-wrap."""

import dataclasses

import pytest

from meshkit_web.core import codec
from meshkit_web.core.envelope import KIND, open_envelope, read_header, seal
from meshkit_web.core.errors import NotARecipientError
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING
from meshkit_web.core.identity import create_identity
from meshkit_web.core.rewrap import rewrap_envelope

from support.aio import run
from support.constants import NOW


async def _sealed(backend, sender, recipients, data):
    blocks = {}
    root = None
    async for block in seal(backend, [data], sender=sender, recipients=recipients, now=NOW,
                            metadata={"name": "notes.txt"}):
        blocks[block.cid] = block.data
        root = block.cid
    return root, blocks


def test_rewrap_moves_entries_to_x_wing_keeps_the_rest_and_the_segments(backend):
    async def go():
        alice, bob, carol = [await create_identity(backend, n, NOW) for n in ("alice", "bob", "carol")]
        classic = [dataclasses.replace(p.public, pq_key=None) for p in (bob, carol)]
        root, blocks = await _sealed(backend, alice, classic, b"the same bytes")

        async def get(cid):
            return blocks[cid]
        block, entries = await rewrap_envelope(backend, root, get, alice, {bob.id: bob.public})
        blocks[block.cid] = block.data
        before, after = await read_header(backend, root, get), await read_header(backend, block.cid, get)
        assert block.cid != root and after.sender_id == alice.id
        kems = {e.recipient: e.kem for e in after.recipients}
        assert kems == {alice.id: KEM_XWING, bob.id: KEM_XWING, carol.id: KEM_X25519_SHA256}
        old = {e.recipient: e for e in before.recipients}
        assert [e.recipient for e in after.recipients] == [e.recipient for e in before.recipients]
        assert next(e for e in after.recipients if e.recipient == carol.id) == old[carol.id]  # kept as it was
        assert (after.segments, after.commitment, after.nonce_prefix, after.size, after.created) == (
            before.segments, before.commitment, before.nonce_prefix, before.size, before.created)
        for who in (bob, carol):
            opened = await open_envelope(backend, block.cid, get, who)
            assert b"".join([c async for c in opened.plaintext()]) == b"the same bytes"
            assert opened.metadata.name == "notes.txt"
        with pytest.raises(NotARecipientError):  # only a header recipient holds the content key
            await rewrap_envelope(backend, root, get, await create_identity(backend, "eve", NOW), {})
    run(go())


def test_rewrap_signs_the_header_it_checked_not_what_a_second_fetch_answers(backend):
    """A gateway answering the root with other bytes the second time (here: another ``created``
    and an extra field, re-signed by no one) gets nothing signed: the re-wrap is built from the
    header read and checked against its CID."""
    async def go():
        alice, bob = [await create_identity(backend, n, NOW) for n in ("alice", "bob")]
        root, blocks = await _sealed(backend, alice, [dataclasses.replace(bob.public, pq_key=None)], b"bytes")
        fetched = []

        async def lying(cid):
            fetched.append(cid)
            if cid == root and fetched.count(root) > 1:
                obj = codec.decode_map(blocks[root], KIND)
                return codec.encode({**obj, "created": obj["created"] + 1, "extra": 1})
            return blocks[cid]
        block, _ = await rewrap_envelope(backend, root, lying, alice, {bob.id: bob.public})
        blocks[block.cid] = block.data
        before, after = (codec.decode_map(blocks[cid], KIND) for cid in (root, block.cid))
        assert after["created"] == before["created"] and "extra" not in after
    run(go())


def test_rewrap_never_turns_an_x_wing_entry_classic(backend):
    """A recipient's X-Wing entry stays as it was when its current record (from a gateway that
    stripped the key, say) would give it a classic one."""
    async def go():
        alice, bob = [await create_identity(backend, n, NOW) for n in ("alice", "bob")]
        root, blocks = await _sealed(backend, alice, [bob.public], b"bytes")

        async def get(cid):
            return blocks[cid]
        block, entries = await rewrap_envelope(backend, root, get, alice,
                                               {bob.id: dataclasses.replace(bob.public, pq_key=None)})
        before = {e.recipient: e for e in (await read_header(backend, root, get)).recipients}
        assert {e.recipient: e for e in entries}[bob.id] == before[bob.id]
        assert before[bob.id].kem == KEM_XWING
        blocks[block.cid] = block.data
        opened = await open_envelope(backend, block.cid, get, bob)  # with his X-Wing key, as before
        assert b"".join([c async for c in opened.plaintext()]) == b"bytes"
    run(go())
