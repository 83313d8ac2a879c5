"""Request negotiation for trustless reads, pure functions, each rule from the Trustless
Gateway spec (https://specs.ipfs.tech/http-gateways/trustless-gateway/, cited by section)
or RFC 9110. Everything here reads hostile headers: each is bounded before it is parsed."""

import hashlib
from typing import NamedTuple

from ..core.car import CAR_MEDIA
from ..core.errors import InvalidArgumentError, NotAcceptableError

from .http import RAW_MEDIA
FORMATS = {"raw": RAW_MEDIA, "car": CAR_MEDIA}
DAG_SCOPES = ("block", "entity", "all")  # "dag-scope" (not a token's scopes: core.auth.SCOPES)
# "bafkqaaa": the identity CID of empty data, the probe path ("Dedicated Probe Paths")
PROBE_CID = "bafkqaaa"
MAX_HEADER_TEXT = 4096   # longer Accept / If-None-Match / Range values are refused
MAX_LIST_ITEMS = 32      # media ranges, entity tags


class Choice(NamedTuple):
    kind: str            # "raw" | "car"
    from_accept: bool    # chosen by Accept, not by ?format= (then Content-Location is sent)


def _bounded(value: str | None, what: str) -> str:
    if value is not None and len(value) > MAX_HEADER_TEXT:
        raise InvalidArgumentError(f"{what} header is too long")
    return value or ""


def _media_ranges(accept: str) -> list[tuple[str, dict, float]]:
    """RFC 9110 12.5.1: ``type/subtype;param=value;q=0.5, ...`` as (type, params, q)."""
    ranges = []
    for position, item in enumerate(accept.split(",")[:MAX_LIST_ITEMS]):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        params, q = {}, 1.0
        for part in parts[1:]:
            key, _, value = part.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"').lower()
            if key == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        ranges.append((media, params, q, position))
    return [(m, p, q) for m, p, q, _ in sorted(ranges, key=lambda r: (-r[2], r[3]))]


def _car_variant_ok(params: dict) -> bool:
    """The CAR variants served: version 1, order dfs (or unknown), dups n ("CAR format
    signaling in Request"); a request for another variant is not acceptable."""
    return (params.get("version", "1") == "1" and params.get("order", "dfs") in ("dfs", "unk", "")
            and params.get("dups", "n") == "n")


def negotiate(format_param: str | None, accept: str | None) -> Choice:
    """The response type. ``format`` takes precedence over Accept ("format (request query
    parameter)"); an unknown format is a 400; no Accept and no format is a 400 in strict
    trustless mode ("Accept (request header)"); an Accept naming neither type is a 406."""
    if format_param is not None:
        if format_param not in FORMATS:
            raise InvalidArgumentError(f"format={format_param[:32]!r} is not offered: use format=raw or format=car")
        return Choice(format_param, False)
    accept = _bounded(accept, "Accept").strip()
    if not accept:
        raise InvalidArgumentError(f"ask for {RAW_MEDIA} or {CAR_MEDIA} (Accept header or ?format=raw|car): "
                                   "this gateway serves no deserialized responses")
    for media, params, q in _media_ranges(accept):
        if q <= 0:
            continue
        if media == RAW_MEDIA:
            return Choice("raw", True)
        if media == CAR_MEDIA and _car_variant_ok(params):
            return Choice("car", True)
    raise NotAcceptableError(f"none of the types asked for is served: ask for {RAW_MEDIA} or "
                             f"{CAR_MEDIA}; version=1; order=dfs; dups=n")


def car_scope(dag_scope: str | None, entity_bytes: str | None) -> str:
    """The DAG scope of a CAR read ("dag-scope", "entity-bytes"). An envelope is DAG-CBOR,
    not UnixFS: ``entity`` is then equivalent to ``block``, and ``entity-bytes`` (which
    implies ``entity``) is ignored for the blocks returned, after its syntax is checked."""
    if dag_scope is not None and dag_scope not in DAG_SCOPES:
        raise InvalidArgumentError(f"dag-scope must be one of {', '.join(DAG_SCOPES)}")
    if entity_bytes is not None:
        check_entity_bytes(entity_bytes)
    scope = dag_scope or ("entity" if entity_bytes is not None else "all")
    return "block" if scope == "entity" else scope


def check_entity_bytes(value: str) -> None:
    """``from:to``, each an integer (negative: from the end), ``to`` may be ``*``."""
    first, sep, last = value.partition(":")
    if not sep or len(value) > 64 or not _is_int(first) or not (last == "*" or _is_int(last)):
        raise InvalidArgumentError("entity-bytes must be from:to (integers, to may be *)")


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit() and text.count("-") <= 1 and not text.endswith("-")


def car_etag(name: str, dag_scope: str | None, entity_bytes: str | None) -> str:
    """An Etag per scope and per entity-bytes, as the spec requires ("dag-scope": "returned
    Etag must include unique prefix based on the passed scope type"; "entity-bytes": "MUST
    augment the returned Etag"). The scope as asked for, so `entity` and `block` differ."""
    scope = dag_scope or ("entity" if entity_bytes is not None else "all")
    suffix = "" if entity_bytes is None else "." + hashlib.sha256(entity_bytes.encode()).hexdigest()[:16]
    return f'"{name}.car.{scope}.dfs.n{suffix}"'


def none_match(header: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2 If-None-Match: a list of entity tags, compared weakly (``W/`` is
    ignored), or ``*`` (any current representation; the caller checked the CID is stored)."""
    header = _bounded(header, "If-None-Match").strip()
    if not header:
        return False
    if header == "*":
        return True
    opaque = etag[2:] if etag.startswith("W/") else etag
    for tag in header.split(",")[:MAX_LIST_ITEMS]:
        tag = tag.strip()
        if (tag[2:] if tag.startswith("W/") else tag) == opaque:
            return True
    return False


def only_if_cached(cache_control: str | None) -> bool:
    """``Cache-Control: only-if-cached`` ("Cache-Control: only-if-cached (request header)")."""
    directives = _bounded(cache_control, "Cache-Control").lower().split(",")
    return any(d.strip() == "only-if-cached" for d in directives[:MAX_LIST_ITEMS])


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """RFC 9110 14.2 for one range of a raw block: (first, last) inclusive; None to serve
    the whole block (no Range, a unit other than bytes, several ranges: ignoring Range is
    allowed); "unsatisfiable" for a 416."""
    header = _bounded(header, "Range").strip()
    if not header.lower().startswith("bytes="):
        return None
    spec = header[6:].strip()
    if "," in spec:
        return None
    first, sep, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not sep or (first and not first.isdigit()) or (last and not last.isdigit()) or not (first or last):
        return None  # an invalid Range is ignored (RFC 9110 14.2)
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end
