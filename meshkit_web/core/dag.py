"""Walking IPLD DAGs made of MeshKit's two block kinds (pure: the caller fetches bytes)."""

import dag_cbor

from .cid import DAG_CBOR, codec_of, parse_cid
from .errors import EnvelopeFormatError


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
