"""Faults injected into a real `meshkit serve` process (issue 27): what the gateway
acknowledged survives, no torn block is ever served, charges follow stored bytes, and every
client sees a typed code.

- SIGKILL at three points of an upload (gateway/crashpoints.py): bytes stored but not
  charged, charged but not answered, a pin recorded but not made;
- a power cut: a loop-mounted ext4 filesystem copied, as a disk would hold it, right after
  the last 201, then mounted and served again;
- a full disk (a small tmpfs): blocks refused as storage_full (507) while logins and reads
  go on, nothing charged for what was not stored, and uploads work again once space is freed;
- Redis restarted between an answered login challenge and its replay, and the gateway too.
"""

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.cid import RAW, cid_bytes, codec_of, parse_cid
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.hpke import TAG_LEN
from meshkit_web.core.identity import create_identity
from meshkit_web.core.limits import charged_size

from support.aio import run
from support.cluster import Redis, Replica

SEGMENT = 64 << 10


# --- helpers: a client, the store on disk, the charges in the database --------------------

async def _person(url, backend, name):
    client = GatewayClient(url, backend, await create_identity(backend, name, int(time.time())), timeout=30)
    await client.publish()
    return client


async def _seal(client, data: bytes) -> bytes:
    return await client.seal_upload([data], recipients=[client.identity.public], segment_size=SEGMENT)


async def _opened(client, root: bytes) -> bytes:
    opened = await client.open(root)
    return b"".join([chunk async for chunk in opened.plaintext()])


def _blocks_on_disk(data_dir) -> dict[str, bytes]:
    found = {}
    for directory, _, files in os.walk(os.path.join(data_dir, "blockstore", "blocks")):
        for name in files:
            with open(os.path.join(directory, name), "rb") as f:
                found[name] = f.read()
    return found


def _torn(blocks: dict[str, bytes]) -> list[str]:
    """Files whose bytes do not hash to the CID they are named by (temp files are not blocks)."""
    return [name for name, data in blocks.items()
            if not name.startswith(".") and cid_bytes(codec_of(parse_cid(name)), data) != parse_cid(name)]


OTHER_CHARGES = ("SELECT sender, charged FROM messages", "SELECT sharer, length(data) FROM capsules",
                 "SELECT signer, length(data) FROM proofs", "SELECT identity, length(data) FROM sync_records")


def _ledger(data_dir) -> tuple[dict, dict]:
    """({identity: [charged cids]}, {identity: usage.stored less what is charged for
    messages, capsules, proofs and sync records}) as the database holds them."""
    with sqlite3.connect(os.path.join(data_dir, "metadata.db")) as db:
        charges: dict = {}
        for identity, cid in db.execute("SELECT identity, cid FROM block_charges"):
            charges.setdefault(identity, []).append(cid)
        stored = dict(db.execute("SELECT identity, stored FROM usage"))
        for query in OTHER_CHARGES:
            for identity, size in db.execute(query):
                stored[identity] = stored.get(identity, 0) - size
    return charges, stored


def _assert_charges_follow_bytes(data_dir, *, exact: bool) -> None:
    """Every charge is for a block that is stored, each usage counter is the sum of its
    charges; ``exact``: and every stored block is charged to someone (nothing stray)."""
    blocks = _blocks_on_disk(data_dir)
    charges, stored = _ledger(data_dir)
    for identity, cids in charges.items():
        missing = [cid for cid in cids if cid not in blocks]
        assert not missing, f"{identity} is charged for {len(missing)} blocks that are not stored"
        assert stored.get(identity) == sum(charged_size(len(blocks[c])) for c in cids), identity
    if exact:
        charged = {cid for cids in charges.values() for cid in cids}
        stray = [name for name in blocks if name not in charged]
        assert not stray, f"{len(stray)} stored blocks nobody is charged for (or temp files): {stray[:3]}"


def _served_blocks_are_whole(url, names) -> None:
    """What the gateway serves for each block hashes to its CID (or is absent): nothing torn."""
    with httpx.Client(timeout=30) as http:
        for name in names:
            if name.startswith("."):
                continue
            reply = http.get(f"{url}/ipfs/{name}", headers={"Accept": "application/vnd.ipld.raw"})
            if reply.status_code == 200:
                assert cid_bytes(codec_of(parse_cid(name)), reply.content) == parse_cid(name), name
            else:
                assert reply.status_code == 404, (name, reply.status_code)


# --- SIGKILL at three points of an upload -------------------------------------------------

@pytest.mark.parametrize("point", ["blocks-stored", "blocks-charged", "pin-recorded"])
def test_sigkill_during_an_upload_loses_nothing_acknowledged(point, tmp_path, backend):
    gateway = Replica("crash", tmp_path / "gw", [], {})
    data_dir = tmp_path / "gw" / "data"
    kept, again = os.urandom(300_000), os.urandom(500_000)

    async def before():
        client = await _person(gateway.url, backend, "crash-owner")
        root = await _seal(client, kept)
        await client.close()
        return client.identity, root

    async def crashed(identity):
        client = GatewayClient(gateway.url, backend, identity, timeout=30)
        try:
            await _seal(client, again)
        except MeshKitError as exc:
            return exc.code
        finally:
            await client.close()
        return "ok"

    async def after(identity, root):
        client = GatewayClient(gateway.url, backend, identity, timeout=30)
        try:
            assert await _opened(client, root) == kept  # acknowledged before the crash: intact
            fresh = await _seal(client, again)           # the same seal, run again, finishes
            assert await _opened(client, fresh) == again
        finally:
            await client.close()

    try:
        gateway.start()
        identity, root = run(before())
        gateway.stop()
        gateway.env = {"MESHKIT_CRASH_AT": point}
        gateway.start()
        seen = run(crashed(identity))
        assert gateway.process.wait(10) == -9, "the gateway did not reach the crash point"
        assert seen == "unavailable", seen  # the client was told, typed: the gateway went away
        gateway.env = {}
        gateway.start()  # alone on its data directory, the start-up check repairs it all first
        _served_blocks_are_whole(gateway.url, _blocks_on_disk(data_dir))
        _assert_charges_follow_bytes(data_dir, exact=True)
        refused = _check(data_dir)  # the whole-store check refuses while a gateway serves
        assert refused.returncode == 1 and "a gateway is serving" in refused.stderr, refused.stderr
        run(after(identity, root))
    finally:
        gateway.stop()
    checked = _check(data_dir)
    assert checked.returncode == 0, checked.stderr
    assert "checked" in checked.stdout
    _assert_charges_follow_bytes(data_dir, exact=True)
    with sqlite3.connect(os.path.join(data_dir, "metadata.db")) as db:
        pins = [row[0] for row in db.execute("SELECT root FROM pins")]
    markers = set(os.listdir(data_dir / "blockstore" / "pins"))
    assert set(pins) == markers, "pin records and the store's pins disagree"


def _check(data_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshkit_web", "serve", "--check", "--data", str(data_dir)],
                          capture_output=True, text=True, timeout=120)


def test_concurrent_puts_never_store_past_the_quota(tmp_path, backend):
    """Bytes are stored before they are charged, so the quota is checked with the caller's
    puts in flight counted: many batches at once near the quota store nothing uncharged."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    data_dir = tmp_path / "gw"
    config = GatewayConfig(data_dir=str(data_dir), storage_quota=3 << 20)
    blocks = [os.urandom(SEGMENT + TAG_LEN) for _ in range(16 * 8)]  # 8 MiB in 16 batches of 512 KiB

    async def race(url):
        client = await _person(url, backend, "racer")
        try:
            groups = [[(cid_bytes(RAW, b), b) for b in blocks[i:i + 8]] for i in range(0, len(blocks), 8)]
            outcomes = await asyncio.gather(*(client.put_batch(g) for g in groups), return_exceptions=True)
        finally:
            await client.close()
        return [getattr(o, "code", "ok") if o is not None else "ok" for o in outcomes]
    with ServerThread(create_app(config, EmbeddedProvider(str(data_dir / "blockstore")))) as server:
        outcomes = run(race(server.url))
    assert "quota_exceeded" in outcomes and set(outcomes) <= {"ok", "quota_exceeded"}, outcomes
    _assert_charges_follow_bytes(data_dir, exact=True)  # nothing stored that nobody pays for
    charges, stored = _ledger(data_dir)
    assert sum(stored.values()) <= 3 << 20


# --- a power cut ---------------------------------------------------------------------------

def _mount(image, point, *options) -> None:
    point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-o", ",".join(("loop",) + options), str(image), str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine cannot loop-mount a filesystem (root and /dev/loop* needed): "
                    f"{done.stderr.strip()[:200]}")


def _umount(point) -> None:
    subprocess.run(["umount", str(point)], capture_output=True)


def test_a_power_cut_right_after_201_keeps_every_acknowledged_block(tmp_path, backend):
    """The disk as a power cut leaves it: the loop device's backing file, copied while the
    filesystem is mounted, holds exactly what the kernel wrote out (what was only in the page
    cache is not there). The journal commits rarely (commit=60), as with a busy disk."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 (e2fsprogs) is needed to make the test filesystem")
    image, snapshot = tmp_path / "disk.img", tmp_path / "after-power-cut.img"
    live, revived = tmp_path / "live", tmp_path / "revived"
    with open(image, "wb") as f:
        f.truncate(256 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    _mount(image, live, "commit=60")
    data = os.urandom(4 << 20)
    try:
        gateway = Replica("power", live / "gw", ["--min-free-mib", "8"], {})
        try:
            gateway.start()

            async def seal():
                client = await _person(gateway.url, backend, "power-owner")
                root = await _seal(client, data)  # every block put, the root pinned: all 201s
                await client.close()
                return client.identity, root
            identity, root = run(seal())
            shutil.copyfile(image, snapshot)  # the power goes out now
        finally:
            if gateway.process and gateway.process.poll() is None:
                gateway.kill()
    finally:
        _umount(live)
    _mount(snapshot, revived)  # the journal is replayed, as at boot
    try:
        blocks = _blocks_on_disk(revived / "gw" / "data")
        assert not _torn(blocks), f"torn or empty blocks after the power cut: {_torn(blocks)[:3]}"
        gateway = Replica("revived", revived / "gw", ["--min-free-mib", "8"], {})
        try:
            gateway.start()

            async def reopen():
                client = GatewayClient(gateway.url, backend, identity, timeout=30)
                try:
                    return await _opened(client, root)
                finally:
                    await client.close()
            assert run(reopen()) == data, "an acknowledged envelope did not survive the power cut"
        finally:
            gateway.stop()
    finally:
        _umount(revived)


# --- a full disk ---------------------------------------------------------------------------

def test_a_full_disk_refuses_blocks_typed_and_keeps_logins_and_reads(tmp_path, backend):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine cannot mount a small tmpfs to fill: {done.stderr.strip()[:200]}")
    filler = disk / "filler"
    gateway = Replica("full", disk / "gw", ["--min-free-mib", "16"], {})
    data_dir = disk / "gw" / "data"
    first, big = os.urandom(200_000), os.urandom(6 << 20)

    def fill(leave: int) -> None:
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        try:
            with open(filler, "ab") as f:
                f.write(b"\0" * max(0, free - leave))
        except OSError:
            pass  # full to the last block: what was asked

    async def scenario():
        client = await _person(gateway.url, backend, "full-owner")
        try:
            root = await _seal(client, first)
            fill(20 << 20)  # 20 MiB left: under the 16 MiB floor once 6 MiB more are asked
            with pytest.raises(MeshKitError) as refused:
                await _seal(client, big)
            assert refused.value.code == "storage_full", refused.value
            assert refused.value.retry_after, "no Retry-After on storage_full"
            client.session.forget_token()  # a fresh login on the full disk
            assert await _opened(client, root) == first  # reads and logins go on
            _assert_charges_follow_bytes(data_dir, exact=False)
            fill(0)  # now truly full, to the last byte
            with pytest.raises(MeshKitError) as refused:
                await _seal(client, big)
            assert refused.value.code == "storage_full", refused.value
            assert await _opened(client, root) == first
            _assert_charges_follow_bytes(data_dir, exact=False)
            filler.unlink()  # the operator frees space: the same upload works, no restart
            again = await _seal(client, big)
            assert await _opened(client, again) == big
        finally:
            await client.close()
    try:
        gateway.start()
        run(scenario())
        log = (disk / "gw" / "serve.log").read_text()
        assert "internal error" not in log, log[-2000:]
    finally:
        gateway.stop()
        subprocess.run(["umount", str(disk)], capture_output=True)


# --- one-time challenges across restarts ---------------------------------------------------

def test_an_answered_challenge_stays_used_across_restarts_of_redis_and_the_gateway(tmp_path, backend):
    from meshkit_web.core import codec
    from meshkit_web.core.auth import challenge_message
    redis = Redis(tmp_path / "redis").start()  # no persistence: a restart forgets everything
    gateway = Replica("once", tmp_path / "gw", [], {"MESHKIT_REDIS_URL": redis.url})
    try:
        gateway.start()
        async def publish():
            client = await _person(gateway.url, backend, "once-owner")
            await client.close()
            return client.identity
        who = run(publish())
        challenge = httpx.post(gateway.url + "/v1/auth/challenge", json={"id": who.id}).json()["challenge"]
        signature = run(backend.ed25519_sign(who.sig_private, challenge_message(gateway.url, challenge)))
        answer = {"challenge": challenge, "signature": codec.b64e(signature), "scopes": ["pins"]}
        assert httpx.post(gateway.url + "/v1/auth/token", json=answer).status_code == 200
        redis.stop()
        redis.start()
        replay = httpx.post(gateway.url + "/v1/auth/token", json=answer)
        assert replay.status_code == 401 and replay.json()["error"] == "unauthorized", replay.text
        gateway.stop()
        gateway.start()
        replay = httpx.post(gateway.url + "/v1/auth/token", json=answer)
        assert replay.status_code == 401 and replay.json()["error"] == "unauthorized", replay.text
    finally:
        gateway.stop()
        redis.stop()
