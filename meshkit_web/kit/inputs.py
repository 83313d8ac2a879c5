"""What ``MeshKit.seal`` accepts, made one kind of source (core.pipeline cuts it into
segments) and the metadata sealed inside the envelope (name, type, mtime: the gateway
never sees them). Nothing is read whole: files and iterables stream a segment at a time."""

import mimetypes
import os
from typing import AsyncIterable, Callable, Iterable, Union

from ..core.errors import InvalidArgumentError
from .files import FileSource

Input = Union[bytes, bytearray, memoryview, str, os.PathLike, AsyncIterable[bytes], Iterable[bytes]]


class Counted:
    """A source that counts what it gave (its size when not known before), and reports
    ``on_progress(done, total)`` as it goes (``total`` None when not known)."""

    def __init__(self, inner, total: int | None, on_progress: Callable | None):
        self.inner, self.total, self.on_progress, self.read = inner, total, on_progress, 0

    def _count(self, n: int) -> None:
        self.read += n
        if self.on_progress is not None:
            self.on_progress(self.read, self.total)

    async def segments(self, size: int):
        from ..core.pipeline import segments_of
        async for piece in segments_of(self.inner, size):
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise InvalidArgumentError("an iterable to seal gives bytes")
            self._count(len(piece))
            yield piece


def sealing_source(data, *, name: str | None, media_type: str | None,
                   on_progress: Callable | None) -> tuple[Counted, int | None, dict]:
    """(the source, its size if known, the metadata to seal)."""
    mtime = None
    if isinstance(data, str):
        data = data.encode("utf-8")
        media_type = media_type or "text/plain; charset=utf-8"
    if isinstance(data, (bytes, bytearray, memoryview)):
        inner, size = [bytes(data)], len(data)
    elif isinstance(data, os.PathLike):
        path = os.fspath(data)
        stat = os.stat(path)  # FileNotFoundError, PermissionError: the caller's OSError
        inner, size, mtime = FileSource(path), stat.st_size, int(stat.st_mtime)
        name = os.path.basename(path) if name is None else name
        media_type = media_type or mimetypes.guess_type(path)[0]
    elif hasattr(data, "read"):
        inner, size = FileSource(data), None
    elif hasattr(data, "__aiter__") or (hasattr(data, "__iter__") and not isinstance(data, dict)):
        inner, size = data, None
    else:
        raise InvalidArgumentError("seal takes bytes, a str, a path (pathlib.Path), a binary file, or an "
                                   "(async) iterable of bytes")
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError("name is a string")
    described = {"name": name or "", "type": media_type, "mtime": mtime}
    return Counted(inner, size, on_progress), size, described
