"""An opened envelope as the page receives it: its sealed description, and its plaintext
as a Blob made only once every segment authenticated."""

from ..core.metadata import DEFAULT_TYPE
from .ffi import js
from .jsapi import _js


def described(opened) -> dict:
    """An opened (or described: clients.gateway.Description) envelope as the page sees it:
    who sealed it when, and what the file is; opensLeft for a share limited in its opens,
    expires for one that ends (a described share: a send link's visitor sees until when)."""
    meta = opened.metadata.to_json() if opened.metadata is not None else {
        "name": None, "type": DEFAULT_TYPE, "size": opened.header.size, "mtime": None, "saveAs": None}
    return {**meta, "size": opened.header.size, "sender": opened.header.sender_id, "created": opened.header.created,
            "opensLeft": getattr(opened, "opens_left", None), "expires": getattr(opened, "expires", None)}


async def as_blob(opened, media_type: str = "", on_progress=None) -> dict:
    """An opened envelope's plaintext as a Blob, made only once every segment authenticated
    (``on_progress``: a JS function, or None; jsapi.callback)."""
    total = opened.header.size
    parts = js.Array.new()
    done = 0
    async for chunk in opened.plaintext():
        part = js.Uint8Array.new(len(chunk))
        part.assign(chunk)
        parts.push(part)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
    # every segment authenticated: only now does plaintext reach the page
    options = _js({"type": media_type or "application/octet-stream"})
    return {"blob": js.Blob.new(parts, options), **described(opened)}
