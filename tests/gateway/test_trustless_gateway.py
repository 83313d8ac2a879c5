"""Trustless Gateway conformance, one test per rule, each citing its section of
https://specs.ipfs.tech/http-gateways/trustless-gateway/ (or RFC 9110), over real HTTP."""

import os

import dag_cbor
import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import car
from meshkit_web.core.cid import RAW, cid_bytes, cid_str
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider
from meshkit_web.providers.kubo import KuboProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread

RAW_T, CAR_T = "application/vnd.ipld.raw", "application/vnd.ipld.car"
DATA = os.urandom(200_000)


@pytest.fixture(scope="module")
def gw(tmp_path_factory, backend):
    base = tmp_path_factory.mktemp("trustless")
    config = GatewayConfig(data_dir=str(base / "data"))
    server = ServerThread(create_app(config, EmbeddedProvider(str(base / "data" / "blockstore")))).start()

    async def sealed():
        me = await create_identity(backend, "tg", NOW)
        async with GatewayClient(server.url, backend, me) as client:
            await client.publish()
            return await client.seal_upload([DATA], recipients=[], segment_size=64 * 1024)
    root = run(sealed())
    yield {"url": server.url, "root": cid_str(root), "blocks": 1 + -(-len(DATA) // (64 * 1024))}
    server.stop()


def get(gw, query="", method="GET", cid=None, **headers):
    return httpx.request(method, f"{gw['url']}/ipfs/{cid or gw['root']}{query}", headers=headers)


def car_blocks(body: bytes) -> list[bytes]:
    """The CIDs of a CAR's frames, in order (each frame's data checked against its CID)."""
    length, pos = car.decode_varint(body)
    car.decode_header(body[pos:pos + length])
    pos += length
    found = []
    while pos < len(body):
        length, pos = car.decode_varint(body, pos)
        cid, data = body[pos:pos + car.CID_LEN], body[pos + car.CID_LEN:pos + length]
        assert cid_bytes(cid[1], data) == cid
        found.append(cid)
        pos += length
    return found


def test_format_takes_precedence_over_accept(gw):
    """"format (request query parameter)": when both Accept and format are present, format
    SHOULD take precedence."""
    reply = get(gw, "?format=raw", Accept=CAR_T)
    assert reply.status_code == 200 and reply.headers["content-type"] == RAW_T


def test_no_accept_and_no_format_is_400_unknown_format_400_unsupported_accept_406(gw):
    """"Accept (request header)": a Gateway SHOULD return 400 when running in strict
    trustless mode and Accept is missing; "CAR format signaling in Response": 400 or 406 for
    an unsupported variant (an unknown ?format= is a 400, not a validation 422)."""
    bare = httpx.Client(headers={})  # httpx sends "Accept: */*" unless told otherwise
    bare.headers.pop("accept", None)
    reply = bare.get(f"{gw['url']}/ipfs/{gw['root']}")
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_argument")
    reply = get(gw, "?format=dag-json")
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_argument")
    reply = get(gw, Accept="text/html,*/*;q=0.8")
    assert (reply.status_code, reply.json()["error"]) == (406, "not_acceptable")
    reply = get(gw, Accept=CAR_T + "; dups=y")  # a variant not served
    assert reply.status_code == 406


def test_accept_q_values_choose_the_type(gw):
    """"Accept (request header)": content negotiation per RFC 9110 12.5.1 (q-values)."""
    reply = get(gw, Accept=f"{RAW_T};q=0.5, {CAR_T};q=0.9")
    assert reply.headers["content-type"].startswith(CAR_T)
    reply = get(gw, Accept=f"{CAR_T};q=0.1, {RAW_T}")
    assert reply.headers["content-type"] == RAW_T
    assert get(gw, Accept=f"{RAW_T};q=0").status_code == 406  # q=0: "not acceptable"


def test_content_location_when_the_type_came_from_accept(gw):
    """"Content-Location (response header)": SHOULD be returned when the format query
    parameter is missing."""
    reply = get(gw, Accept=RAW_T)
    assert reply.headers["content-location"] == f"/ipfs/{gw['root']}?format=raw"
    assert "content-location" not in get(gw, "?format=raw").headers


def test_dag_scope_block_and_entity_return_the_root_block_only(gw):
    """"dag-scope": block returns only the root block; entity, for non-UnixFS data (an
    envelope is DAG-CBOR), is equivalent to block; all (the default) the whole DAG. The
    Etag MUST differ by scope."""
    whole = get(gw, "?format=car")
    block = get(gw, "?format=car&dag-scope=block")
    entity = get(gw, "?format=car&dag-scope=entity")
    assert len(car_blocks(whole.content)) == gw["blocks"]
    assert car_blocks(block.content) == car_blocks(entity.content) == [car_blocks(whole.content)[0]]
    assert len({whole.headers["etag"], block.headers["etag"], entity.headers["etag"]}) == 3
    assert get(gw, "?format=car&dag-scope=all").headers["etag"] == whole.headers["etag"]  # all is the default
    assert get(gw, "?format=car&dag-scope=everything").status_code == 400


def test_entity_bytes_on_non_file_data_is_ignored_but_changes_the_etag(gw):
    """"entity-bytes": on an entity that is not a continuous array of bytes the parameter
    MUST be ignored (equivalent to dag-scope=entity); the Gateway MUST augment the Etag."""
    plain = get(gw, "?format=car&dag-scope=entity")
    ranged = get(gw, "?format=car&entity-bytes=0:99")
    other = get(gw, "?format=car&entity-bytes=-1024:*")
    assert car_blocks(ranged.content) == car_blocks(other.content) == car_blocks(plain.content)
    assert len({plain.headers["etag"], ranged.headers["etag"], other.headers["etag"]}) == 3
    assert get(gw, "?format=car&entity-bytes=abc").status_code == 400


def test_head_of_a_car_sends_no_zero_length(gw):
    """RFC 9110 9.3.2: HEAD sends the headers GET would; the CAR GET streams with no length,
    so a HEAD must not claim "Content-Length: 0"."""
    head = get(gw, "?format=car", method="HEAD")
    assert head.status_code == 200 and head.headers["content-type"].startswith(CAR_T)
    assert head.headers.get("content-length") in (None, str(len(get(gw, "?format=car").content)))


def test_car_content_type_names_version_order_and_dups(gw):
    """"Content-Type (response header)": MUST include the CAR version; "CAR format
    signaling in Response": all supported parameters."""
    kind = get(gw, "?format=car").headers["content-type"].replace(" ", "")
    assert kind == CAR_T + ";version=1;order=dfs;dups=n"


@pytest.mark.parametrize("header, expected", [
    ('"nope", {etag}', 304), ("W/{etag}", 304), ("*", 304), ('"nope", W/"other"', 200), ("", 200)])
def test_if_none_match_lists_weak_tags_and_star(gw, header, expected):
    """RFC 9110 13.1.2 (Etag per "Etag (response header)"): a list, weak comparison, *."""
    etag = get(gw, "?format=raw").headers["etag"]
    reply = get(gw, "?format=raw", **{"If-None-Match": header.format(etag=etag)})
    assert reply.status_code == expected


def test_only_if_cached_on_an_absent_root_is_412(gw):
    """"Cache-Control: only-if-cached": SHOULD return 412 if the root block is not
    immediately available (and serve it when it is)."""
    absent = cid_str(cid_bytes(RAW, b"not here"))
    assert get(gw, "?format=raw", cid=absent, **{"Cache-Control": "only-if-cached"}).status_code == 412
    assert get(gw, "?format=raw", cid=absent).status_code == 404  # "404 Not Found" otherwise
    assert get(gw, "?format=raw", **{"Cache-Control": "max-age=0, only-if-cached"}).status_code == 200


def test_the_bafkqaaa_probe(gw):
    """"Dedicated Probe Paths": raw -> 200 and an empty body; CAR -> 200 and a valid CAR
    whose roots are bafkqaaa (no identity block); HEAD supported for both."""
    raw = get(gw, "?format=raw", cid="bafkqaaa")
    assert raw.status_code == 200 and raw.content == b""
    reply = get(gw, "?format=car", cid="bafkqaaa")
    assert reply.status_code == 200
    length, pos = car.decode_varint(reply.content)
    header = dag_cbor.decode(reply.content[pos:pos + length])
    assert header["version"] == 1 and [bytes(r) for r in header["roots"]] == [bytes([0x01, 0x55, 0x00, 0x00])]
    assert reply.content[pos + length:] == b""
    assert get(gw, "?format=raw", cid="bafkqaaa", method="HEAD").status_code == 200
    assert get(gw, "?format=car", cid="bafkqaaa", method="HEAD").status_code == 200


def test_a_single_range_of_a_raw_block(gw):
    """RFC 9110 14 (a SHOULD of the issue: single Range on raw blocks): 206 with
    Content-Range; 416 when unsatisfiable; several ranges may be ignored (200, whole)."""
    whole = get(gw, "?format=raw").content
    part = get(gw, "?format=raw", Range="bytes=10-19")
    assert part.status_code == 206 and part.content == whole[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"
    assert get(gw, "?format=raw", Range="bytes=-5").content == whole[-5:]
    assert get(gw, "?format=raw", Range="bytes=100-").content == whole[100:]
    unsatisfiable = get(gw, "?format=raw", Range=f"bytes={len(whole)}-")
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == f"bytes */{len(whole)}"
    several = get(gw, "?format=raw", Range="bytes=0-1,5-6")
    assert several.status_code == 200 and several.content == whole
    head = get(gw, "?format=raw", method="HEAD", Range="bytes=0-9")
    assert head.status_code == 206 and head.headers["content-length"] == "10"


def test_retry_after_on_502_from_a_provider_that_is_down(tmp_path):
    """RFC 9110 10.2.3 (the issue's SHOULD: Retry-After on 502/503): a provider that is
    down is a 502 that says when to come back."""
    from support.kubo_fake import FakeKubo
    kubo = FakeKubo()
    node = ServerThread(kubo.app, ready_path="/version").start()
    config = GatewayConfig(data_dir=str(tmp_path / "data"))
    with ServerThread(create_app(config, KuboProvider(node.url, timeout=2))) as server:
        node.stop()  # the Kubo node goes away under a running gateway
        reply = httpx.get(f"{server.url}/ipfs/{cid_str(cid_bytes(RAW, b'x'))}?format=raw", timeout=30)
    assert reply.status_code == 502 and reply.headers["retry-after"].isdigit()


def test_content_paths_in_car_requests(gw):
    """"GET /ipfs/{cid}[/{path}]": a path is permitted for CAR requests, with the pathing
    of path-gateway: the blocks needed to verify each step, then the terminus in its
    dag-scope. For block requests only /ipfs/{cid} is supported."""
    whole = car_blocks(get(gw, "?format=car").content)
    header, first_segment = whole[0], whole[1]
    reply = get(gw, "/segments/0?format=car&dag-scope=block")
    assert reply.status_code == 200, reply.text
    assert car_blocks(reply.content) == [header, first_segment]  # the proof, then the terminus
    assert reply.headers["x-ipfs-roots"] == f"{gw['root']},{cid_str(first_segment)}"
    assert reply.headers["etag"] != get(gw, "?format=car&dag-scope=block").headers["etag"]
    inside = get(gw, "/segment_size?format=car")  # ends inside the root block: the root is the terminus
    assert inside.status_code == 200 and car_blocks(inside.content) == whole  # all, from the root
    assert get(gw, "/segments/99?format=car").status_code == 404     # names nothing
    assert get(gw, "/nothing?format=car").status_code == 404
    assert get(gw, "/segments/0/deeper?format=car").status_code == 404  # no path inside a raw block
    assert get(gw, "/segments/0?format=raw").status_code == 400
    assert get(gw, "/" + "/".join(["a"] * 40) + "?format=car").status_code == 400
