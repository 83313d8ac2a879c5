"""The embedded provider: blocks as files on local disk, so one command runs everything.

    DATA/blocks/<2 chars>/<cid>   one file per block, written to a temp name then renamed
    DATA/pins/<cid>               a marker per pinned root

Writes are atomic renames of content-addressed files, so several gateway processes can
share one directory. Unpinning drops the marker; the gateway's collector (gateway/gc.py) deletes blocks
nobody pinned once their grace period is over.
"""

import asyncio
import os
import tempfile

from ..core.cid import cid_str
from ..core.errors import MissingBlockError
from .base import BlockProvider


class EmbeddedProvider(BlockProvider):
    name = "embedded"

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        self._blocks = os.path.join(self.directory, "blocks")
        self._pins = os.path.join(self.directory, "pins")

    async def start(self) -> None:
        for path in (self.directory, self._blocks, self._pins):
            os.makedirs(path, mode=0o700, exist_ok=True)

    def _path(self, cid: bytes) -> str:
        name = cid_str(cid)  # only CIDs that passed parse_cid reach here: [a-z2-7]
        return os.path.join(self._blocks, name[-2:], name)

    def _write(self, cid: bytes, data: bytes) -> None:
        path = self._path(cid)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _read(self, cid: bytes) -> bytes:
        try:
            with open(self._path(cid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise MissingBlockError(f"block {cid_str(cid)} is not stored") from None

    async def put(self, cid: bytes, data: bytes) -> None:
        await asyncio.to_thread(self._write, cid, data)

    async def get(self, cid: bytes) -> bytes:
        return await asyncio.to_thread(self._read, cid)

    async def size(self, cid: bytes) -> int | None:
        try:
            return os.stat(self._path(cid)).st_size
        except FileNotFoundError:
            return None

    async def pin(self, root: bytes) -> None:
        await self.dag_size(root)  # every block must be present, as with Kubo's recursive pin
        open(os.path.join(self._pins, cid_str(root)), "a").close()

    async def unpin(self, root: bytes) -> None:
        try:
            os.unlink(os.path.join(self._pins, cid_str(root)))
        except FileNotFoundError:
            pass

    async def delete(self, cid: bytes) -> None:
        try:
            os.unlink(self._path(cid))
        except FileNotFoundError:
            pass

    def is_pinned(self, root: bytes) -> bool:
        return os.path.exists(os.path.join(self._pins, cid_str(root)))
