"""CARv1 files as a block store: a streaming writer and an indexed, verifying reader."""

import asyncio
import os
import tempfile

from ..core import car
from ..core.cid import cid_str
from ..core.errors import EnvelopeFormatError, MissingBlockError

_ROOT_PLACEHOLDER = b"\x01\x71\x12\x20" + bytes(32)


class CarWriter:
    """Writes blocks as they come; the root (known only at the end) is patched into the header.

    The header's length is fixed by the root CID's length, so a placeholder is written
    first and overwritten on :meth:`commit`. The file appears under its final name only
    on commit: a failed seal leaves nothing behind.
    """

    def __init__(self, path: str):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        fd, self._tmp = tempfile.mkstemp(prefix=".meshkit-", suffix=".car.part", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self._file.write(car.encode_header([_ROOT_PLACEHOLDER]))
        self.bytes_written = 0

    def put(self, cid: bytes, data: bytes) -> None:
        self._file.write(car.frame_prefix(cid, len(data)))
        self._file.write(data)
        self.bytes_written += len(data)

    def commit(self, root: bytes) -> None:
        header = car.encode_header([root])
        if len(header) != len(car.encode_header([_ROOT_PLACEHOLDER])):
            raise EnvelopeFormatError("root CID must be a 36-byte CIDv1")
        self._file.seek(0)
        self._file.write(header)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None or not self._file.closed:
            self.abort()


class CarReader:
    """Indexes a CARv1 file by seeking over the data.

    ``get`` returns bytes as stored: Core verifies every block against its CID before
    using it, so this store is not trusted for integrity (and does not hash twice).
    """

    def __init__(self, path: str):
        self._file = open(path, "rb")
        self._index: dict[bytes, tuple[int, int]] = {}
        try:
            self.roots = self._scan()
        except Exception:
            self._file.close()
            raise

    def _scan(self) -> list[bytes]:
        read = self._file.read
        header_len = car.read_varint(read)
        if header_len is None or not 0 < header_len <= car.MAX_HEADER_LEN:
            raise EnvelopeFormatError("not a CAR file (bad header length)")
        body = read(header_len)
        if len(body) != header_len:
            raise EnvelopeFormatError("CAR truncated inside its header")
        roots = car.decode_header(body)
        size = os.fstat(self._file.fileno()).st_size
        while (frame_len := car.read_varint(read)) is not None:
            start = self._file.tell()
            if not 0 < frame_len <= car.MAX_FRAME_LEN or start + frame_len > size:
                raise EnvelopeFormatError("CAR truncated or has an invalid frame length")
            cid_len = car.split_frame_cid(read(min(frame_len, 64)))
            if cid_len > frame_len:
                raise EnvelopeFormatError("CAR frame shorter than its CID")
            self._file.seek(start)
            cid = read(cid_len)
            self._index[cid] = (start + cid_len, frame_len - cid_len)
            self._file.seek(start + frame_len)
        return roots

    def __contains__(self, cid: bytes) -> bool:
        return cid in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, cid: bytes) -> bytes:
        try:
            offset, length = self._index[cid]
        except KeyError:
            raise MissingBlockError(f"block {cid_str(cid)} is not in the CAR") from None
        self._file.seek(offset)
        return self._file.read(length)

    async def get_block(self, cid: bytes) -> bytes:
        """Positional read in a worker thread: no shared file offset, and the read of the
        next segment overlaps verifying and decrypting this one."""
        try:
            offset, length = self._index[cid]
        except KeyError:
            raise MissingBlockError(f"block {cid_str(cid)} is not in the CAR") from None
        if length < 65536:
            return os.pread(self._file.fileno(), length, offset)
        return await asyncio.to_thread(os.pread, self._file.fileno(), length, offset)

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
