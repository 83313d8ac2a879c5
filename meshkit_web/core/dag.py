"""Walking IPLD DAGs made of MeshKit's two block kinds (pure: the caller fetches bytes)."""

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
