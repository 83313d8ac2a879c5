"""The browser runtime's outbox on CPython (browser/ffi.py's stand-ins for BroadcastChannel
and Web Locks, browser/memory.py's store) against a real gateway: stage, upload, resume
after the gateway went away mid-upload, one uploader per job, a permanent refusal stops."""

import asyncio
import os

from meshkit_web.browser import ffi
from meshkit_web.browser.memory import MemoryStore
from meshkit_web.browser.outbox import Outbox, job_lock
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.cid import parse_cid
from meshkit_web.core.envelope import seal
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread, free_port

SEG = 65536


def test_ffi_stand_ins_on_cpython():
    assert ffi.IN_BROWSER is False
    heard = []
    ffi.listen(heard.append)
    ffi.broadcast({"type": "job", "job": {"id": "x"}})
    assert heard[-1] == {"type": "job", "job": {"id": "x"}}

    async def locks():
        async with job_lock("j1") as first:
            async with job_lock("j1") as second:
                assert (first, second) == (True, False)  # one uploader per job
    run(locks())


def test_staged_jobs_upload_resume_after_the_gateway_comes_back_and_open_byte_exact(tmp_path, backend):
    port = free_port()
    config = GatewayConfig(data_dir=str(tmp_path / "data"))

    def gateway():
        return ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "blocks"))), port=port)
    server = gateway().start()
    data = os.urandom(40 * SEG + 3)

    async def go():
        nonlocal server
        me = await create_identity(backend, "outboxer", NOW)
        clients = {}

        async def client_for(owner, url):
            if owner not in clients:
                clients[owner] = GatewayClient(url, backend, me)
            return clients[owner]
        box = Outbox(MemoryStore(), client_for)
        client = await client_for(me.name, server.url)
        await client.publish()
        blocks = seal(backend, [data], sender=me, recipients=[], now=NOW, segment_size=SEG)
        job = await box.stage(client, blocks, gateway=server.url, name="f.bin", size=len(data), recipients=[])
        assert job["state"] == "queued" and job["blocks"] == 42

        # the gateway goes away after 10 blocks landed: the job waits, and resumes there
        client.upload.batch_blocks = 2  # uploads in requests of 2 blocks
        put = client.upload.put_batch
        landed = 0

        async def put_then_fail(blocks):
            nonlocal landed
            await put(blocks)
            landed += len(blocks)
            if landed == 10:
                server.stop()
        client.upload.put_batch = put_then_fail
        assert await box.run(budget=0) == "pending"
        waiting = await box.job(job["id"])
        assert waiting["state"] == "retrying" and waiting["error"]["code"] == "unavailable"
        assert 6 <= waiting["sent"] < 42  # the mark: every block below it landed (in-flight ones may too)
        server = gateway().start()
        sent_again = []
        client.upload.put_batch = lambda blocks: (sent_again.extend(cid for cid, _ in blocks), put(blocks))[1]
        assert await box.run() == "idle"
        done = await box.job(job["id"])
        assert done["state"] == "done" and len(sent_again) <= 42 - waiting["sent"]
        assert await box.db.all("outbox") == []  # done: the staged blocks are gone from the browser
        opened = await client.open(parse_cid(done["root"]))
        back = b"".join([chunk async for chunk in opened.plaintext()])
        assert back == data
        await client.close()
    try:
        run(go())
    finally:
        server.stop()


def test_a_permanent_refusal_stops_the_job_until_the_user_decides(tmp_path, backend):
    config = GatewayConfig(data_dir=str(tmp_path / "data"), storage_quota=8 * SEG)
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "blocks")))) as server:
        async def go():
            me = await create_identity(backend, "over-quota", NOW)
            async with GatewayClient(server.url, backend, me) as client:
                async def same(owner, url):
                    return client
                box = Outbox(MemoryStore(), same)
                await client.publish()
                blocks = seal(backend, [os.urandom(20 * SEG)], sender=me, recipients=[], now=NOW, segment_size=SEG)
                job = await box.stage(client, blocks, gateway=server.url, name="big", size=20 * SEG, recipients=[])
                assert await box.run() == "idle"  # nothing runnable: stopped, not retried forever
                failed = await box.job(job["id"])
                assert failed["state"] == "failed" and failed["error"]["code"] == "quota_exceeded"
                assert len(await box.db.all("outbox")) == 21  # kept: the user may free room and retry
                landed = (await client.usage())["stored"]
                assert landed > 4 * SEG  # what landed before the refusal
                dropped = await box.discard(job["id"])
                assert await box.job(job["id"]) is None and await box.db.all("outbox") == []
                assert dropped["blocks"] == 21 and dropped["released"] == 21
                assert (await client.usage())["stored"] < landed - 4 * SEG  # given back now, not after the grace
        run(go())


def test_a_discard_while_staging_leaves_no_block_behind(backend):
    """The user discards a job still being staged: the discard waits for the staging, then
    drops every block (before, the staging went on writing blocks and the job after it)."""
    async def go():
        me = await create_identity(backend, "stager", NOW)
        client = GatewayClient("http://127.0.0.1:9", backend, me)  # never asked: nothing was tried
        box = Outbox(MemoryStore(), None)
        halfway = asyncio.Event()
        go_on = asyncio.Event()

        async def blocks():
            async for seq, block in _numbered(seal(backend, [os.urandom(10 * SEG)], sender=me, recipients=[],
                                                   now=NOW, segment_size=SEG)):
                if seq == 5:
                    halfway.set()
                    await go_on.wait()
                yield block
        staging = asyncio.ensure_future(box.stage(client, blocks(), gateway="g", name="f", size=10 * SEG,
                                                  recipients=[]))
        await halfway.wait()
        (job,) = await box.jobs()
        discarding = asyncio.ensure_future(box.discard(job["id"]))
        await asyncio.sleep(0.05)
        assert not discarding.done()  # it waits for the staging
        go_on.set()
        await staging
        assert (await discarding)["blocks"] == 11
        assert await box.db.all("outbox") == [] and await box.jobs() == []
    run(go())


async def _numbered(blocks):
    seq = 0
    async for block in blocks:
        yield seq, block
        seq += 1
