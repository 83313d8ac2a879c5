"""Re-wrapping (FORMAT.md 3.8, core/rewrap.py): a new header over the same segments, each
recipient in ``current`` wrapped again to its current keys, the others' entries kept byte for
byte, signed by the re-wrapper; only a header recipient can re-wrap."""

import dataclasses

import pytest

from meshkit_web.core.envelope import open_envelope, read_header, seal
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
