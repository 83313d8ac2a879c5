"""POST /v1/blocks: many blocks in one CAR request, each CID-checked, bounded and charged as
it streams in; and the client that seals and uploads in such batches."""

import os

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import car, codec
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str, parse_cid
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread
from support.transports import Recording

CAR = {"Content-Type": car.CAR_MEDIA}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, backend):
    base = tmp_path_factory.mktemp("batch")
    config = GatewayConfig(data_dir=str(base / "data"), max_batch_blocks=8, max_batch_size=4 << 20,
                           storage_quota=6 << 20)
    server = ServerThread(create_app(config, EmbeddedProvider(str(base / "data" / "blockstore")))).start()
    people = {}

    async def setup():
        for name in ("alice", "bob"):
            people[name] = await create_identity(backend, name, NOW)
            async with GatewayClient(server.url, backend, people[name]) as c:
                await c.publish()
                people[name + "_token"] = await c.token()
    run(setup())
    yield {"url": server.url, **people}
    server.stop()


def auth(gateway, name="alice"):
    return {**CAR, "Authorization": "Bearer " + gateway[name + "_token"]}


def blocks(count, size=1000):
    return [(cid_bytes(RAW, data), data) for data in (os.urandom(size) for _ in range(count))]


def car_body(items, roots=None):
    body = car.encode_header(roots if roots is not None else [items[0][0]] if items else [])
    return body + b"".join(car.frame_prefix(cid, len(data)) + data for cid, data in items)


def stored(gateway, cid) -> bytes | None:
    reply = httpx.get(f"{gateway['url']}/ipfs/{cid_str(cid)}?format=raw")
    return reply.content if reply.status_code == 200 else None


def test_a_batch_stores_every_block_and_says_which(gateway):
    items = blocks(5)
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(items), headers=auth(gateway))
    assert reply.status_code == 201, reply.text
    assert reply.json()["blocks"] == [{"cid": cid_str(cid), "size": len(data)} for cid, data in items]
    assert all(stored(gateway, cid) == data for cid, data in items)
    # sent in pieces of every size (a CAR frame split across network chunks)
    items = blocks(3, 70_000)
    body = car_body(items)
    reply = httpx.post(gateway["url"] + "/v1/blocks", headers=auth(gateway),
                       content=iter([body[i:i + 4093] for i in range(0, len(body), 4093)]))
    assert reply.status_code == 201 and all(stored(gateway, cid) == data for cid, data in items)


def test_a_block_that_does_not_hash_to_its_cid_stops_the_batch_there(gateway):
    items = blocks(4)
    forged = (items[2][0], os.urandom(1000))
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(items[:2] + [forged, items[3]]),
                       headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (400, "cid_mismatch")
    assert [stored(gateway, cid) == data for cid, data in items] == [True, True, False, False]


@pytest.mark.parametrize("mangle, status, code", [
    (lambda body: body[:-10], 400, "malformed"),                               # truncated inside a block
    (lambda body: body[:3], 400, "malformed"),                                 # truncated inside the header
    (lambda body: b"", 400, "malformed"),                                      # empty
    (lambda body: b"\x05hello" + body, 400, "malformed"),                      # not a CAR header
    (lambda body: b"\xff" * 12, 400, "malformed"),                             # runaway varint
    (lambda body: body + b"\x80\x80", 400, "malformed"),                       # cut inside a length prefix
    (lambda body: body + b"\x80\x80\x80\x80\x01", 413, "limit_exceeded"),      # a 256 MiB frame announced
    (lambda body: body + car.frame_prefix(b"\x01\x70\x12\x20" + bytes(32), 5) + b"hello", 400, "malformed"),  # dag-pb
    (lambda body: body + b"\x0a" + b"\x01\x55\x12\x20" + bytes(32), 400, "malformed"),  # frame shorter than its CID
    (lambda body: body + car.frame_prefix(cid_bytes(RAW, b"x"), (2 << 20) + 100), 413, "limit_exceeded"),
])
def test_hostile_car_bodies_get_typed_errors(gateway, mangle, status, code):
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=mangle(car_body(blocks(2))), headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (status, code), reply.text


def test_dag_cbor_blocks_go_alone_not_in_batches(gateway):
    """A DAG-CBOR block is decoded at put (up to 1 MiB each): batches carry segments only."""
    data = codec.encode({"a": 1})
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(blocks(1) + [(cid_bytes(DAG_CBOR, data), data)]),
                       headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported")


def test_duplicates_are_stored_once_and_short_blocks_are_one_per_batch(gateway):
    one = blocks(1)
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(one * 3), headers=auth(gateway))
    assert reply.status_code == 201 and len(reply.json()["blocks"]) == 1
    # an envelope has one short segment (its last): a batch of many tiny blocks is refused
    tiny = blocks(3, 20)
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(tiny), headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (413, "limit_exceeded")
    assert stored(gateway, tiny[0][0]) is not None and stored(gateway, tiny[1][0]) is None


def test_batch_limits_token_and_media_type(gateway):
    url = gateway["url"] + "/v1/blocks"
    body = car_body(blocks(2))
    assert httpx.post(url, content=body, headers=CAR).status_code == 401
    reply = httpx.post(url, content=body, headers={**auth(gateway), "Content-Type": "application/octet-stream"})
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported")
    # more blocks than max_batch_blocks (8): refused at the 9th, the first 8 kept
    many = blocks(9, 100)
    reply = httpx.post(url, content=car_body(many), headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (413, "limit_exceeded")
    assert stored(gateway, many[7][0]) is not None and stored(gateway, many[8][0]) is None
    # over max_batch_size (4 MiB): declared, and streamed without a length
    big = car_body(blocks(5, 1 << 20))
    reply = httpx.post(url, content=big, headers=auth(gateway))
    assert (reply.status_code, reply.json()["error"]) == (413, "limit_exceeded")
    reply = httpx.post(url, content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                       headers=auth(gateway))
    assert reply.status_code == 413
    # the larger limit is this route's alone: any other route is still held to one block + 4 KiB
    huge = os.urandom((2 << 20) + 16 + 8192)
    reply = httpx.post(gateway["url"] + "/v1/proofs", content=huge, headers=auth(gateway))
    assert reply.status_code == 413 and str((2 << 20) + 4096) in reply.json()["message"]
    reply = httpx.post(url, content=car_body([(cid_bytes(RAW, huge[:2 << 20]), huge[:2 << 20])]), headers=auth(gateway))
    assert reply.status_code == 201  # a batch of the same size is taken


def test_the_storage_quota_is_charged_block_by_block(gateway):
    # bob's quota is 6 MiB: the 7th MiB block is refused, the six before it are stored
    url = gateway["url"] + "/v1/blocks"
    items = blocks(7, 1 << 20)
    reply = httpx.post(url, content=car_body(items[:2]), headers=auth(gateway, "bob"))
    assert reply.status_code == 201
    reply = httpx.post(url, content=car_body(items[2:5]), headers=auth(gateway, "bob"))
    assert reply.status_code == 201
    reply = httpx.post(url, content=car_body(items[5:]), headers=auth(gateway, "bob"))
    assert (reply.status_code, reply.json()["error"]) == (403, "quota_exceeded")
    assert stored(gateway, items[5][0]) is not None and stored(gateway, items[6][0]) is None
    # a block already charged costs nothing again
    reply = httpx.post(url, content=car_body(items[:3]), headers=auth(gateway, "bob"))
    assert reply.status_code == 201


def test_a_group_that_crosses_the_quota_stores_the_blocks_before_the_crossing(gateway, backend):
    # carol's 6 MiB quota: 6 blocks of 600 KiB fit, then of a group of 6 only 4 do: the
    # group is charged block by block, and only those 4 are stored
    async def token():
        me = await create_identity(backend, "carol", NOW)
        async with GatewayClient(gateway["url"], backend, me) as c:
            await c.publish()
            return await c.token()
    headers = {**CAR, "Authorization": "Bearer " + run(token())}
    first, second = blocks(6, 600 << 10), blocks(6, 600 << 10)  # one group each (< 4 MiB)
    assert httpx.post(gateway["url"] + "/v1/blocks", content=car_body(first), headers=headers).status_code == 201
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(second), headers=headers)
    assert (reply.status_code, reply.json()["error"]) == (403, "quota_exceeded")
    assert [stored(gateway, cid) is not None for cid, _ in second] == [True] * 4 + [False] * 2
    reply = httpx.post(gateway["url"] + "/v1/blocks", content=car_body(second[4:5]), headers=headers)
    assert reply.status_code == 403  # still full: the refused block was not charged on the side


def counting(url, backend, identity) -> GatewayClient:
    """A client whose transport notes every request (support.transports.Recording)."""
    return GatewayClient(url, backend, identity, transport=Recording())


def events(client) -> list[tuple[str, str, str]]:
    """("start" | "end", method, path family) of each request, in order (a PUT's CID dropped)."""
    return [(kind, method, path.rsplit("/", 1)[0] if method == "PUT" else path)
            for kind, method, path in client.transport.events]


def sent(client) -> list[tuple[str, str]]:
    return [(method, path) for kind, method, path in events(client) if kind == "start"]


def test_seal_upload_sends_segments_in_batches_and_the_header_last(gateway, backend):
    data = os.urandom(300_000)

    async def go():
        async with counting(gateway["url"], backend, gateway["alice"]) as alice:
            alice.upload.batch_blocks = 4
            root = await alice.seal_upload([data], recipients=[], segment_size=16 * 1024)
            uploads = [s for s in sent(alice) if s[1].startswith("/v1/blocks")]
            exchanges = events(alice)
            opened = await alice.open(root)
            back = b"".join([chunk async for chunk in opened.plaintext()])
            return root, uploads, back, exchanges
    root, uploads, back, exchanges = run(go())
    # the header starts only once every batch has come back (landed), not merely been sent
    header_start = exchanges.index(("start", "PUT", "/v1/blocks"))
    batch_ends = [i for i, e in enumerate(exchanges) if e == ("end", "POST", "/v1/blocks")]
    assert len(batch_ends) == 5 and max(batch_ends) < header_start
    assert back == data
    segments = -(-len(data) // (16 * 1024))  # 19
    assert uploads.count(("POST", "/v1/blocks")) == -(-segments // 4)
    assert uploads[-1] == ("PUT", "/v1/blocks") and uploads.count(("PUT", "/v1/blocks")) == 1  # the header, alone, last
    assert stored(gateway, root) is not None and parse_cid(cid_str(root))[1] == DAG_CBOR


def test_a_gateway_without_batches_gets_one_block_per_request(gateway, backend, tmp_path):
    """A client talking to a gateway from before POST /v1/blocks (404 there) falls back to
    PUT per block, and the envelope lands and opens all the same."""
    from starlette.responses import JSONResponse

    class OldGateway:  # the real gateway, minus the batch route
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v1/blocks":
                return await JSONResponse({"error": "not_found", "message": "Not Found"}, 404)(scope, receive, send)
            return await self.app(scope, receive, send)

    config = GatewayConfig(data_dir=str(tmp_path / "data"))
    data = os.urandom(100_000)
    with ServerThread(OldGateway(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "bs"))))) as old:
        async def go():
            me = await create_identity(backend, "old", NOW)
            async with counting(old.url, backend, me) as client:
                await client.publish()
                root = await client.seal_upload([data], recipients=[], segment_size=16 * 1024)
                opened = await client.open(root)
                return sent(client), b"".join([chunk async for chunk in opened.plaintext()])
        requests, back = run(go())
    assert back == data
    assert requests.count(("POST", "/v1/blocks")) == 1  # asked once, then never again
    assert requests.count(("PUT", "/v1/blocks")) == -(-len(data) // (16 * 1024)) + 1
