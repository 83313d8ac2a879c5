"""The IPFS project's own clients read our envelopes through the gateway and verify them:
@helia/verified-fetch 8 on a Helia 7 node (tests/helia/fetch.mjs, pinned in its lock file,
installed by scripts/setup.sh) whose only block source is this gateway, as a trustless
gateway (specs.ipfs.tech/http-gateways/trustless-gateway). Neither shares code with MeshKit:
what they accept is what any IPFS client would accept, and what they reject is rejected
by code we did not write.
"""

import hashlib
import json
import os
import subprocess

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import dag
from meshkit_web.core.cid import RAW, cid_bytes, cid_str
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import TESTS
from support.servers import ServerThread

FETCH = TESTS / "helia" / "fetch.mjs"
SEGMENT = 64 * 1024


class Tamper:
    """Flips one byte in the body of reads of one CID (a gateway, or a path to it, that lies)."""

    def __init__(self, app):
        self.app, self.cid = app, None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.cid is None or not scope["path"].endswith(self.cid):
            return await self.app(scope, receive, send)

        async def flip(message):
            if message["type"] == "http.response.body" and message.get("body"):
                body = bytearray(message["body"])
                body[len(body) // 2] ^= 1
                message = {**message, "body": bytes(body)}
            await send(message)
        return await self.app(scope, receive, flip)


@pytest.fixture(scope="module")
def served(tmp_path_factory, people):
    """A gateway holding one envelope of several segments: (url, tamper switch, root, plaintext)."""
    if not (FETCH.parent / "node_modules" / "@helia" / "verified-fetch").is_dir():
        raise RuntimeError("Helia is not installed: run scripts/setup.sh (npm ci --prefix tests/helia)")
    from meshkit_web.crypto.nacl_backend import NaclBackend
    data_dir = tmp_path_factory.mktemp("helia-gw")
    app = Tamper(create_app(GatewayConfig(data_dir=str(data_dir)), EmbeddedProvider(str(data_dir / "blocks"))))
    server = ServerThread(app).start()
    plain = os.urandom(5 * SEGMENT + 777)

    async def upload():
        async with GatewayClient(server.url, NaclBackend(), people["alice"]) as alice:
            await alice.publish()
            return await alice.seal_upload([plain], recipients=[people["bob"].public], segment_size=SEGMENT)
    root = run(upload())
    yield server.url, app, root, plain
    server.stop()


def helia(url: str, cid: bytes, *args: str, timeout_ms: int = 30_000) -> tuple[int, dict]:
    proc = subprocess.run(["node", str(FETCH), url, cid_str(cid), *args, "--timeout-ms", str(timeout_ms)],
                          capture_output=True, text=True, timeout=timeout_ms / 1000 + 30)
    lines = proc.stdout.strip().splitlines()
    assert lines, f"fetch.mjs printed nothing (exit {proc.returncode}): {proc.stderr[-500:]}"
    return proc.returncode, json.loads(lines[-1])


def test_verified_fetch_reads_raw_blocks_byte_identical(served):
    url, _, root, _ = served
    header = httpx.get(f"{url}/ipfs/{cid_str(root)}?format=raw").content
    segment = dag.links(root, header)[2]
    for cid in (root, segment):
        code, got = helia(url, cid, "--format", "raw")
        theirs = httpx.get(f"{url}/ipfs/{cid_str(cid)}?format=raw").content
        assert code == 0 and got["status"] == 200, got
        assert got["contentType"] == "application/vnd.ipld.raw"
        assert got["sha256"] == hashlib.sha256(theirs).hexdigest() and got["bytes"] == len(theirs)


def test_verified_fetch_accepts_our_car_and_helia_walks_every_block(served):
    url, _, root, _ = served
    header = httpx.get(f"{url}/ipfs/{cid_str(root)}?format=raw").content
    expected = [cid_str(root)] + [cid_str(c) for c in dag.links(root, header)]
    code, got = helia(url, root, "--format", "car")
    ours = httpx.get(f"{url}/ipfs/{cid_str(root)}?format=car").content
    assert code == 0 and got["status"] == 200, got
    assert got["contentType"].startswith("application/vnd.ipld.car")
    assert got["carBlocks"] == len(expected)  # every block present, every hash checked (@ipld/car)
    assert got["sha256"] == hashlib.sha256(ours).hexdigest()
    code, walked = helia(url, root, "--walk")  # Helia's own DAG walker, through its blockstore
    assert code == 0 and walked["error"] is None, walked
    assert sorted(walked["cids"]) == sorted(expected)


def test_helia_rejects_a_tampered_block_and_an_absent_one_is_an_error_not_a_hang(served):
    url, tamper, root, _ = served
    header = httpx.get(f"{url}/ipfs/{cid_str(root)}?format=raw").content
    segment = dag.links(root, header)[3]
    tamper.cid = cid_str(segment)
    try:
        code, got = helia(url, segment, "--format", "raw")
        assert code != 0 and got["error"], got  # never the bytes of a block whose hash does not match
        code, walked = helia(url, root, "--walk")
        assert code != 0 and walked["error"] and cid_str(segment) not in walked["cids"], walked
    finally:
        tamper.cid = None
    absent = cid_bytes(RAW, b"never stored here")
    code, got = helia(url, absent, "--format", "raw", timeout_ms=20_000)
    assert code == 1 and got["status"] in (404, 502, 504), got  # an answer, not exit 3 (timeout)
