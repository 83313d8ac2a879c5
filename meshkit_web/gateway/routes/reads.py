"""Trustless reads (https://specs.ipfs.tech/http-gateways/trustless-gateway/): one raw
block, or a CAR of the DAG in the scope asked for, its walk bounded and its CBOR decoded
off the event loop. The rules of negotiation are in gateway/trustless.py."""

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from ...core import car, dag
from ...core.car import CAR_MEDIA
from ...core.cid import cid_str, parse_cid
from ...core.errors import InvalidArgumentError, MissingBlockError, NotCachedError
from ...providers.base import WalkBudget
from .. import trustless
from ..context import Gateway
from ..http import CID_TEXT_MAX, IMMUTABLE, RAW_MEDIA

CAR_TYPE = CAR_MEDIA + "; version=1; order=dfs; dups=n"  # "CAR format signaling in Response"
MAX_PATH_TEXT = 2048


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    config, provider = gw.config, gw.provider
    read_doc = {"responses": {200: {"content": {RAW_MEDIA: {}, CAR_MEDIA: {}}}}, "tags": ["trustless gateway"]}

    async def trustless_read(request: Request, cid: str = Path(max_length=CID_TEXT_MAX),
                             format: str | None = Query(None, max_length=32),
                             dag_scope: str | None = Query(None, alias="dag-scope", max_length=16),
                             entity_bytes: str | None = Query(None, alias="entity-bytes", max_length=64)):
        """A single raw block or a CAR. Deserialized responses are not offered."""
        return await read(request, cid, format, dag_scope, entity_bytes)

    async def trustless_read_path(request: Request, cid: str = Path(max_length=CID_TEXT_MAX),
                                  path: str = Path(max_length=MAX_PATH_TEXT),
                                  format: str | None = Query(None, max_length=32),
                                  dag_scope: str | None = Query(None, alias="dag-scope", max_length=16),
                                  entity_bytes: str | None = Query(None, alias="entity-bytes", max_length=64)):
        """A CAR of a content path: the blocks that prove each step, then the terminus in its scope."""
        return await read(request, cid, format, dag_scope, entity_bytes, path)

    # GET and HEAD alike ("HEAD /ipfs/{cid}[/{path}]": same as GET, without the payload)
    for method in ("GET", "HEAD"):
        api.add_api_route("/ipfs/{cid}", trustless_read, methods=[method], operation_id=f"trustless_{method.lower()}",
                          **read_doc)
        api.add_api_route("/ipfs/{cid}/{path:path}", trustless_read_path, methods=[method],
                          operation_id=f"trustless_{method.lower()}_path", **read_doc)

    async def read(request: Request, cid: str, format_: str | None, dag_scope: str | None,
                   entity_bytes: str | None, path: str = ""):
        choice = trustless.negotiate(format_, request.headers.get("accept"))
        segments = [s for s in path.split("/") if s]
        if cid == trustless.PROBE_CID and not segments:
            return probe(request, choice)
        binary = parse_cid(cid)  # first: a malformed CID is "malformed" whatever follows it
        if segments and choice.kind == "raw":  # "GET /ipfs/{cid}": block requests take no path
            raise InvalidArgumentError("a raw block is asked for by its CID alone: /ipfs/{cid}?format=raw")
        if len(segments) > dag.MAX_PATH_SEGMENTS:
            raise InvalidArgumentError(f"a content path has at most {dag.MAX_PATH_SEGMENTS} segments")
        name = cid_str(binary)
        if choice.kind == "car":
            scope = trustless.car_scope(dag_scope, entity_bytes)
            etag = trustless.car_etag(name + "".join("/" + s for s in segments), dag_scope, entity_bytes)
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
        proof, terminus = await resolve(binary, segments)
        common["X-Ipfs-Roots"] = ",".join([cid_str(c) for c, _ in proof] + [cid_str(terminus)])
        return await car_stream(request, binary, terminus, proof, scope, common)

    async def resolve(root: bytes, segments: list[str]) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The blocks a content path goes through (each needed to verify the next step) and
        its terminus ("the pathing behavior is identical to path-gateway"). A path that
        names nothing is a 404 before the first byte."""
        proof, current = [], root
        while segments:
            data = await provider.get(current)
            linked, segments = dag.step(current, data, segments)  # MissingBlockError: a path naming nothing
            if linked is None:
                break  # the path ends inside this block: it is the terminus
            proof.append((current, data))
            current = linked
            if await provider.size(current) is None:
                raise MissingBlockError(f"block {cid_str(current)} on the content path is not stored")
        return proof, current

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

    async def car_stream(request: Request, root: bytes, terminus: bytes, proof: list, scope: str, common: dict):
        """Header (roots: the requested CID), the path's blocks, then the terminus: alone
        ("block") or its whole DAG ("all"), depth first, no duplicates."""
        headers = {**common, "Content-Disposition": f'attachment; filename="{cid_str(root)}.car"'}
        budget = lambda: WalkBudget(config.max_read_blocks, config.max_read_cbor_bytes)  # noqa: E731
        if scope == "all":
            # complete and within bounds, checked before the first byte (404/413, not a cut stream)
            await provider.check_complete(terminus, budget())
        if request.method == "HEAD":
            # the GET streams without a length: so does the HEAD (RFC 9110 9.3.2), never "0"
            return StreamingResponse(empty(), headers=headers, media_type=CAR_TYPE)
        if scope == "all" and not proof:  # the whole DAG of the CID asked for: the provider's own export
            return StreamingResponse(provider.export_car(root, budget()), headers=headers, media_type=CAR_TYPE)
        body = car.encode_stream([root], car_blocks(terminus, proof, scope, budget()))
        return StreamingResponse(body, headers=headers, media_type=CAR_TYPE)

    async def car_blocks(terminus: bytes, proof: list, scope: str, budget: WalkBudget):
        """The path's blocks, then the terminus: alone, or its DAG depth first."""
        for block in proof:
            yield block
        if scope == "all":
            async for block in provider.walk(terminus, budget):
                yield block
        else:
            yield terminus, await provider.get(terminus)

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
