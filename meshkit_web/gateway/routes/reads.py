"""Trustless reads (https://specs.ipfs.tech/http-gateways/trustless-gateway/): one raw
block, or a CAR of the DAG in the scope asked for, its walk bounded and its CBOR decoded
off the event loop. The rules of negotiation are in gateway/trustless.py."""

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from ...core import car
from ...core.car import CAR_MEDIA
from ...core.cid import cid_str, parse_cid
from ...core.errors import MissingBlockError, NotCachedError
from ...providers.base import WalkBudget
from .. import trustless
from ..context import Gateway
from ..http import CID_TEXT_MAX, IMMUTABLE, RAW_MEDIA

CAR_TYPE = CAR_MEDIA + "; version=1; order=dfs; dups=n"  # "CAR format signaling in Response"


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    config, provider = gw.config, gw.provider
    read_doc = {"responses": {200: {"content": {RAW_MEDIA: {}, CAR_MEDIA: {}}}}, "tags": ["trustless gateway"]}

    @api.get("/ipfs/{cid}", **read_doc)
    async def trustless_get(request: Request, cid: str = Path(max_length=CID_TEXT_MAX),
                            format: str | None = Query(None, max_length=32),
                            dag_scope: str | None = Query(None, alias="dag-scope", max_length=16),
                            entity_bytes: str | None = Query(None, alias="entity-bytes", max_length=64)):
        """A single raw block or a CAR. Deserialized responses are not offered."""
        return await read(request, cid, format, dag_scope, entity_bytes)

    @api.head("/ipfs/{cid}", **read_doc)
    async def trustless_head(request: Request, cid: str = Path(max_length=CID_TEXT_MAX),
                             format: str | None = Query(None, max_length=32),
                             dag_scope: str | None = Query(None, alias="dag-scope", max_length=16),
                             entity_bytes: str | None = Query(None, alias="entity-bytes", max_length=64)):
        return await read(request, cid, format, dag_scope, entity_bytes)

    async def read(request: Request, cid: str, format_: str | None, dag_scope: str | None,
                   entity_bytes: str | None):
        choice = trustless.negotiate(format_, request.headers.get("accept"))
        if cid == trustless.PROBE_CID:
            return probe(request, choice)
        binary = parse_cid(cid)
        name = cid_str(binary)
        if choice.kind == "car":
            scope = trustless.car_scope(dag_scope, entity_bytes)
            etag = trustless.car_etag(name, dag_scope, entity_bytes)
        else:
            etag = f'"{name}.raw"'
        size = await provider.size(binary)
        if size is None:
            if trustless.only_if_cached(request.headers.get("cache-control")):
                raise NotCachedError(f"block {name} is not stored here")  # 412, "only-if-cached"
            raise MissingBlockError(f"block {name} is not stored")        # 404, "404 Not Found"
        common = {"ETag": etag, "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff", "X-Ipfs-Roots": name}
        if choice.from_accept:  # "Content-Location (response header)": the URL of this very type
            common["Content-Location"] = f"/ipfs/{name}?format={choice.kind}"
        if trustless.none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=common)
        if choice.kind == "raw":
            return await raw_block(request, binary, size, common)
        return await car_stream(request, binary, scope, common)

    async def raw_block(request: Request, binary: bytes, size: int, common: dict):
        headers = {**common, "Content-Disposition": f'attachment; filename="{cid_str(binary)}.bin"',
                   "Accept-Ranges": "bytes"}
        wanted = trustless.byte_range(request.headers.get("range"), size)
        if wanted == "unsatisfiable":
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if wanted is not None:
            first, last = wanted
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        status = 200 if wanted is None else 206
        length = size if wanted is None else wanted[1] - wanted[0] + 1
        if request.method == "HEAD":
            return Response(status_code=status, headers={**headers, "Content-Length": str(length)}, media_type=RAW_MEDIA)
        data = await provider.get(binary)
        body = data if wanted is None else data[wanted[0]:wanted[1] + 1]
        return Response(body, status_code=status, headers=headers, media_type=RAW_MEDIA)

    async def car_stream(request: Request, binary: bytes, scope: str, common: dict):
        name = cid_str(binary)
        headers = {**common, "Content-Disposition": f'attachment; filename="{name}.car"'}
        budget = lambda: WalkBudget(config.max_read_blocks, config.max_read_cbor_bytes)  # noqa: E731
        if scope == "all":
            # complete and within bounds, checked before the first byte (404/413, not a cut stream)
            await provider.check_complete(binary, budget())
            body = provider.export_car(binary, budget())
        else:  # "block": the root block alone
            body = single_block(binary)
        if request.method == "HEAD":
            # the GET streams without a length: so does the HEAD (RFC 9110 9.3.2), never "0"
            body = empty()
        return StreamingResponse(body, headers=headers, media_type=CAR_TYPE)

    async def single_block(binary: bytes):
        data = await provider.get(binary)
        yield car.encode_header([binary])
        yield car.frame_prefix(binary, len(data))
        yield data

    def probe(request: Request, choice: trustless.Choice):
        """"Dedicated Probe Paths": bafkqaaa, the empty identity CID. Raw: 200 and an empty
        body; CAR: a valid CAR whose roots are bafkqaaa (the identity block itself is never
        sent: "MUST NOT include virtual blocks identified by identity CIDs")."""
        headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff",
                   "ETag": f'"{trustless.PROBE_CID}.{choice.kind}"'}
        if choice.kind == "raw":
            return Response(b"", headers={**headers, "Content-Disposition": 'attachment; filename="bafkqaaa.bin"'},
                            media_type=RAW_MEDIA)
        body = b"" if request.method == "HEAD" else car.encode_header([PROBE_BINARY])
        return Response(body, headers={**headers, "Content-Disposition": 'attachment; filename="bafkqaaa.car"'},
                        media_type=CAR_TYPE)

    return api


PROBE_BINARY = bytes([0x01, 0x55, 0x00, 0x00])  # CIDv1, raw, identity multihash of 0 bytes


async def empty():
    return
    yield  # an async generator with nothing in it
