"""Files in and out of MeshKit on CPython: what ``seal`` reads and ``save`` writes, shared
by the Python API and the CLI.

Plaintext is written to a temp file beside the target and moved into place only once every
segment authenticated; never over an existing file unless asked (``replace``)."""

import asyncio
import contextlib
import os
import shutil
import tempfile
from typing import AsyncIterator, Callable

from ..core.errors import InvalidArgumentError


class FileSource:
    """A file to seal (a path, or a binary file object already open), read in a worker
    thread (the next read overlaps sealing and sending the last) exactly one segment at a
    time: core.pipeline.segments_of then has no pieces to re-cut, so each byte is copied
    once, from the kernel."""

    def __init__(self, file):
        self.file = file

    async def segments(self, size: int):
        with open(self.file, "rb", buffering=0) if isinstance(self.file, (str, os.PathLike)) \
                else contextlib.nullcontext(self.file) as f:
            while piece := await asyncio.to_thread(read_up_to, f, size):
                if not isinstance(piece, bytes):
                    raise InvalidArgumentError("a file to seal is opened in binary mode ('rb')")
                yield piece


def read_up_to(f, size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the file (a read may return less: a pipe)."""
    piece = f.read(size)
    while piece and len(piece) < size:
        more = f.read(size - len(piece))
        if not more:
            break
        piece += more
    return piece


@contextlib.asynccontextmanager
async def _written(chunks: AsyncIterator[bytes], folder: str, on_write: Callable[[int], None] | None = None):
    """A temp file in ``folder`` holding all of ``chunks``, for the caller to place; gone
    afterwards whatever happened (placing it hard-links or moves it first)."""
    fd, tmp = tempfile.mkstemp(prefix=".meshkit-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                await asyncio.to_thread(out.write, chunk)
                if on_write is not None:
                    on_write(len(chunk))
        yield tmp
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


async def write_verified(chunks: AsyncIterator[bytes], path: str, *, replace: bool,
                         on_write: Callable[[int], None] | None = None) -> str:
    """Write ``chunks`` to ``path`` through a temp file, moved there at the end; on any
    failure nothing is left behind. Returns ``path``."""
    async with _written(chunks, os.path.dirname(os.path.abspath(path)), on_write) as tmp:
        place(tmp, path, replace)
    return path


async def write_new_in(chunks: AsyncIterator[bytes], folder: str, name: str, tries: int = 1000) -> str:
    """Write ``chunks`` to a new file ``folder/name`` (a safe name: no separators), else
    ``stem (2).ext``...: the first free one when the file is moved into place (never over
    anything that appeared meanwhile). Returns its path."""
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise InvalidArgumentError("a file name here has no folder in it (use the opened file's save_name)")
    stem, suffix = os.path.splitext(name)
    async with _written(chunks, folder) as tmp:
        for number in range(1, tries + 1):
            path = os.path.join(folder, name if number == 1 else f"{stem} ({number}){suffix}")
            try:
                place(tmp, path, replace=False)
                return path
            except InvalidArgumentError:  # taken: the next number
                continue
    raise InvalidArgumentError(f"{tries} files named like {name!r} are in {folder!r} already")


def place(tmp: str, path: str, replace: bool) -> None:
    """Move the finished temp file to ``path``. Unless ``replace``, never over anything: a
    hard link fails if ``path`` exists by then, whatever appeared there since it was checked
    (a file, a symlink: not followed). Where hard links are refused, an exclusive create and
    a copy do the same."""
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise InvalidArgumentError(f"{path!r} exists: it was left as it is (choose another name)") from None
    except OSError:  # no hard links on this filesystem (or across it)
        _copy_exclusive(tmp, path)
    os.unlink(tmp)


def _copy_exclusive(tmp: str, path: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise InvalidArgumentError(f"{path!r} exists: it was left as it is (choose another name)") from None
    try:
        with os.fdopen(fd, "wb") as out, open(tmp, "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
    except BaseException:
        os.unlink(path)
        raise
