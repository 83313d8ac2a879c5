"""Walking IPLD DAGs made of MeshKit's two block kinds (pure: the caller fetches bytes)."""

from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

import dag_cbor

from .cid import DAG_CBOR, codec_of, parse_cid
from .errors import EnvelopeFormatError, MissingBlockError


def links(cid: bytes, data: bytes) -> list[bytes]:
    """CIDs a block links to, in document order: none for raw, tag-42 links for DAG-CBOR."""
    if codec_of(cid) != DAG_CBOR:
        return []
    try:
        obj = dag_cbor.decode(data)
    except Exception as exc:
        raise EnvelopeFormatError("block is not valid DAG-CBOR") from exc
    found: list[bytes] = []

    def visit(value):
        if hasattr(value, "codec") and hasattr(value, "digest"):
            found.append(parse_cid(value))
        elif isinstance(value, dict):
            for key in value:  # decoded in canonical DAG-CBOR key order
                visit(value[key])
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(obj)
    return found


Loaded = TypeVar("Loaded")


async def walk(root: bytes, load: Callable[[bytes], Awaitable[Loaded]],
               links_of: Callable[[bytes, Loaded], Awaitable[Iterable[bytes]]]) -> AsyncIterator[tuple[bytes, Loaded]]:
    """Each distinct block of the DAG under ``root`` once, depth first with links in document
    order (a CAR's "dfs" order): ``(cid, await load(cid))``, then the links ``await
    links_of(cid, loaded)`` names are followed. The one DAG walk: the caller decides what a
    block's visit fetches (its bytes, its size, nothing), what it costs (a budget, in
    ``load``) and what an absent block means (an error, or no links)."""
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        loaded = await load(cid)
        yield cid, loaded
        stack.extend(reversed(tuple(await links_of(cid, loaded))))


MAX_PATH_SEGMENTS = 32  # a content path deeper than any MeshKit DAG is refused


def step(cid: bytes, data: bytes, segments: list[str]) -> tuple[bytes | None, list[str]]:
    """IPLD pathing inside one block (https://ipld.io/docs/data-model/pathing/): follow
    ``segments`` through its maps (by key) and lists (by decimal index) up to the first
    link. Returns (the linked CID, the segments left after it), or (None, []) when the
    path ends inside this block; MissingBlockError when a segment names nothing."""
    if codec_of(cid) != DAG_CBOR:
        if segments:
            raise MissingBlockError("the content path does not resolve: a raw block has no path inside it")
        return None, []
    try:
        value = dag_cbor.decode(data)
    except Exception as exc:
        raise EnvelopeFormatError("block is not valid DAG-CBOR") from exc
    for index, segment in enumerate(segments):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif (isinstance(value, list) and segment.isascii() and segment.isdigit() and len(segment) < 10
              and int(segment) < len(value)):  # ASCII digits only: int() refuses some of str.isdigit()'s
            value = value[int(segment)]
        else:
            raise MissingBlockError(f"the content path does not resolve: no {segment[:64]!r} at this point")
        if hasattr(value, "codec") and hasattr(value, "digest"):
            return parse_cid(value), segments[index + 1:]
    return None, []
