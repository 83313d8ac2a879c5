"""clients/upload.py without a network: an in-memory gateway stands in for the session, so
the batching limits, the bound on requests in flight, the order blocks land in (and what
``on_landed`` is told), the fallback for a gateway without POST /v1/blocks and the way
errors come out are checked exactly."""

import asyncio

import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.transport import Response
from meshkit_web.clients.upload import BATCH_BLOCKS, BATCH_BYTES, UPLOAD_CONCURRENCY, Upload
from meshkit_web.core import car
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str, parse_cid
from meshkit_web.core.errors import QuotaExceededError, UnavailableError

from support.aio import run


class FakeGateway:
    """What Upload needs of a session (``request``, ``safe_url``), answering from memory.
    ``batches``: False answers POST /v1/blocks 404 (a gateway from before batches);
    ``delay(n)``: seconds the n-th request (from 0) takes; ``fail(n)``: an error it raises."""

    safe_url = "http://gateway.test"

    def __init__(self, *, batches=True, delay=lambda n: 0.001, fail=lambda n: None, status_without=404):
        self.batches, self.delay, self.fail, self.status_without = batches, delay, fail, status_without
        self.stored: dict[bytes, bytes] = {}
        self.events: list[tuple] = []  # ("start" | "end", method, path, CIDs of the body), in order
        self.in_flight = self.most_in_flight = self.count = 0

    async def request(self, method, path, *, body=None, content_type=None, ok=(200, 201, 204), **_):
        n, self.count = self.count, self.count + 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            got = await self._blocks(method, path, body)
            self.events.append(("start", method, path.rsplit("/", 1)[0] if method == "PUT" else path, got))
            await asyncio.sleep(self.delay(n))
            if self.fail(n) is not None:
                raise self.fail(n)
            if method == "POST" and path == "/v1/blocks" and not self.batches:
                assert self.status_without in ok
                return Response(self.status_without, {}, b'{"error": "not_found", "message": "Not Found"}')
            self.stored.update(got)
            self.events.append(("end", method, path.rsplit("/", 1)[0] if method == "PUT" else path, got))
            return Response(201 if method != "POST" or path == "/v1/blocks" else 200, {}, b"{}")
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _blocks(method, path, body) -> dict[bytes, bytes]:
        if method == "PUT":
            return {parse_cid(path.rsplit("/", 1)[1]): bytes(body)}
        if method == "POST" and path == "/v1/blocks":
            async def chunks():
                yield b"".join(body)
            stream = car.CarStream(chunks())
            await stream.header()
            return {cid: data async for cid, data in stream.blocks()}
        return {}

    def requests(self, method=None, path=None) -> list[tuple]:
        """(method, path, number of blocks) of each request started, in order."""
        return [(m, p, len(got)) for kind, m, p, got in self.events
                if kind == "start" and method in (None, m) and path in (None, p)]


def envelope(segments: int, size: int = 100, *, index_after: int | None = None, first: int = 0) -> list:
    """(seq, cid, data) of ``segments`` RAW blocks, a DAG-CBOR index after ``index_after`` of
    them if asked, and a DAG-CBOR root last: an envelope's shape."""
    blocks = []
    for i in range(segments):
        data = i.to_bytes(4, "big") * (size // 4)
        blocks.append((RAW, data))
        if index_after is not None and i + 1 == index_after:
            blocks.append((DAG_CBOR, b"index" + data[:8]))
    blocks.append((DAG_CBOR, b"root"))
    return [(first + n, cid_bytes(kind, data), data) for n, (kind, data) in enumerate(blocks)]


async def given(blocks):
    for block in blocks:
        yield block


def put_all(gateway, blocks, **kw) -> tuple[Upload, bytes]:
    on_landed = kw.pop("on_landed", None)
    up = Upload(gateway, **kw)
    root = run(up.put_blocks(given(blocks), on_landed=on_landed))
    return up, root


def test_segments_go_in_batches_of_batch_blocks_and_the_root_alone_last():
    gateway, blocks = FakeGateway(), envelope(10)
    _, root = put_all(gateway, blocks, batch_blocks=4)
    assert root == blocks[-1][1]
    assert gateway.requests() == [("POST", "/v1/blocks", 4), ("POST", "/v1/blocks", 4), ("POST", "/v1/blocks", 2),
                                  ("PUT", "/v1/blocks", 1)]
    assert gateway.stored == {cid: data for _, cid, data in blocks}


def test_the_default_limits():
    gateway = FakeGateway()
    put_all(gateway, envelope(2 * BATCH_BLOCKS + 2, size=16))  # small blocks: the count limits
    assert [n for _, _, n in gateway.requests("POST")] == [BATCH_BLOCKS, BATCH_BLOCKS, 2]
    gateway = FakeGateway()
    big = 1 << 20
    put_all(gateway, envelope(2 * (BATCH_BYTES // big) + 1, size=big))  # 1 MiB segments: the bytes limit
    per = BATCH_BYTES // big
    assert gateway.requests() == [("POST", "/v1/blocks", per), ("POST", "/v1/blocks", per),
                                  ("PUT", "/v1/blocks", 1), ("PUT", "/v1/blocks", 1)]  # a lone segment is a PUT


def test_a_batch_goes_once_it_reaches_batch_bytes():
    gateway = FakeGateway()
    put_all(gateway, envelope(7, size=1000), batch_bytes=2500)
    # 3 blocks make 3000 >= 2500: sent; the last one alone (and the root after it)
    assert [n for _, _, n in gateway.requests()] == [3, 3, 1, 1]


def test_at_most_upload_concurrency_requests_in_flight():
    gateway = FakeGateway(delay=lambda n: 0.02)
    put_all(gateway, envelope(40), batch_blocks=2)
    assert len(gateway.requests("POST")) == 20
    assert gateway.most_in_flight == UPLOAD_CONCURRENCY  # reached, never passed
    gateway = FakeGateway(delay=lambda n: 0.02)
    put_all(gateway, envelope(40), batch_blocks=2, concurrency=1)
    assert gateway.most_in_flight == 1


def test_a_dag_cbor_block_starts_only_once_every_block_before_it_landed():
    # later requests are quicker: batches land out of order, yet the index and the root wait
    gateway = FakeGateway(delay=lambda n: max(0.001, 0.03 - n * 0.005))
    blocks = envelope(12, index_after=6)
    put_all(gateway, blocks, batch_blocks=2)
    for seq, cid, _ in blocks:
        if cid[1] != DAG_CBOR:
            continue
        start = next(i for i, e in enumerate(gateway.events) if e[0] == "start" and cid in e[3])
        landed = set().union(*(e[3] for e in gateway.events[:start] if e[0] == "end"))
        assert {c for s, c, _ in blocks if s < seq} <= landed, seq
    assert gateway.requests()[3] == ("PUT", "/v1/blocks", 1)  # 3 batches of the first 6, then the index


def test_on_landed_says_each_block_once_with_the_resume_mark():
    gateway = FakeGateway(delay=lambda n: [0.03, 0.001, 0.02, 0.001][n % 4])
    blocks = envelope(15, first=5)  # a resumed upload: numbered from 5
    told = []

    async def landed(seq, mark):
        await asyncio.sleep(0)
        told.append((seq, mark, set(gateway.stored)))
    put_all(gateway, blocks, batch_blocks=2, on_landed=landed)
    assert sorted(seq for seq, _, _ in told) == [seq for seq, _, _ in blocks]
    assert [seq for seq, _, _ in told] != sorted(seq for seq, _, _ in told)  # they did land out of order
    marks = [mark for _, mark, _ in told]
    assert marks == sorted(marks) and marks[0] >= 5 and marks[-1] == blocks[-1][0] + 1
    seqs = {seq: cid for seq, cid, _ in blocks}
    for _, mark, stored in told:  # every block below the mark has landed
        assert {seqs[s] for s in range(5, mark)} <= stored


def test_a_sync_on_landed_works_too():
    told = []
    put_all(FakeGateway(), envelope(5), batch_blocks=2, on_landed=lambda seq, mark: told.append(seq))
    assert sorted(told) == list(range(6))


@pytest.mark.parametrize("status", [404, 405])
def test_a_gateway_without_batches_gets_puts_from_then_on(status):
    gateway = FakeGateway(batches=False, status_without=status)
    blocks = envelope(9)
    up, root = put_all(gateway, blocks, batch_blocks=4, concurrency=1)
    assert root == blocks[-1][1] and gateway.stored == {cid: data for _, cid, data in blocks}
    assert len(gateway.requests("POST")) == 1 and up.batch_route is False  # asked once
    assert len(gateway.requests("PUT")) == len(blocks)
    run(up.put_blocks(given(envelope(5, size=200))))  # the next envelope
    assert len(gateway.requests("POST")) == 1  # never asked again


def test_the_first_error_comes_out_and_nothing_is_left_in_flight():
    gateway = FakeGateway(delay=lambda n: 0.01 if n != 2 else 0.001,
                          fail=lambda n: QuotaExceededError("full") if n == 2 else None)
    with pytest.raises(QuotaExceededError):
        put_all(gateway, envelope(40), batch_blocks=2)
    assert gateway.in_flight == 0  # the others were cancelled and waited for
    assert gateway.count < 20  # it stopped: no batch went after the failure was seen
    assert not [e for e in gateway.events if e[1] == "PUT"]  # the root never went


def test_an_error_in_the_root_put_or_in_on_landed_comes_out():
    gateway = FakeGateway(fail=lambda n: UnavailableError("down") if n == 3 else None)
    with pytest.raises(UnavailableError):
        put_all(gateway, envelope(6), batch_blocks=2)  # requests 0-2 the batches, 3 the root

    def refuse(seq, mark):
        if seq == 3:
            raise RuntimeError("the outbox could not write its mark")
    with pytest.raises(RuntimeError):
        put_all(FakeGateway(), envelope(6), batch_blocks=2, on_landed=refuse)


def test_finish_pins_and_stores_the_proof_given():
    gateway = FakeGateway()
    up = Upload(gateway)
    root = envelope(1)[-1][1]
    assert run(up.finish(root, proof=b"signed proof")) == b"signed proof"
    assert gateway.requests() == [("POST", f"/v1/pins/{cid_str(root)}", 0), ("POST", "/v1/proofs", 0)]
    run(up.finish(root, pin=False, proof=b"again"))
    assert gateway.requests()[2:] == [("POST", "/v1/proofs", 0)]


def test_the_client_uploads_through_its_upload_over_its_session():
    """GatewayClient's block calls are Upload's, over whatever session it was given."""
    gateway = FakeGateway()
    client = GatewayClient.over(gateway)
    client.upload.batch_blocks = 3
    blocks = envelope(6)
    assert run(client.put_blocks(given(blocks))) == blocks[-1][1]
    run(client.put_batch([(cid, data) for _, cid, data in blocks[:2]]))
    run(client.put_block(blocks[0][1], blocks[0][2]))
    assert [n for _, _, n in gateway.requests()] == [3, 3, 1, 2, 1]
