"""CARv1 files as a block store: a streaming writer and an indexed, verifying reader."""

import asyncio
import os
import stat
import tempfile

from ..core import car
from ..core.cid import cid_str
from ..core.errors import EnvelopeFormatError, LimitExceededError, MissingBlockError

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
        self._file.writelines(car.frame(cid, data))
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
    """Indexes a CARv1 file by reading each frame's prefix and seeking over its data.

    ``get`` returns bytes as stored: Core verifies every block against its CID before
    using it, so this store is not trusted for integrity (and does not hash twice). It is
    trusted for nothing else either: the scan is bounded by core.car's limits (header,
    roots, blocks, each block's legal size) and refuses duplicates and empty frames, one
    positional read per frame, so a hostile file costs at most the work of a legal one.
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
        fd = self._file.fileno()
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a pipe or device has no size to check frames against
            raise EnvelopeFormatError("a CAR must be a regular file")
        size = info.st_size
        head = os.pread(fd, car.MAX_VARINT_LEN + car.MAX_HEADER_LEN, 0)
        header_len, pos = car.decode_varint(head)
        if header_len == 0:
            raise EnvelopeFormatError("not a CAR file (empty header)")
        if header_len > car.MAX_HEADER_LEN:
            raise LimitExceededError(f"CAR header of {header_len} bytes is over {car.MAX_HEADER_LEN}")
        if pos + header_len > len(head):
            raise EnvelopeFormatError("CAR truncated inside its header")
        roots = car.decode_header(head[pos:pos + header_len])
        pos += header_len
        prefix_len = car.MAX_VARINT_LEN + car.CID_LEN
        while pos < size:
            if len(self._index) >= car.MAX_BLOCKS:
                raise LimitExceededError(f"CAR holds more than {car.MAX_BLOCKS} blocks (more than one envelope has)")
            prefix = os.pread(fd, prefix_len, pos)
            frame_len, cid_start = car.decode_varint(prefix)
            cid = prefix[cid_start:cid_start + car.CID_LEN]
            data_len = car.check_frame(cid, frame_len)
            end = pos + cid_start + frame_len
            if end > size:
                raise EnvelopeFormatError("CAR truncated inside a block")
            if cid in self._index:
                raise EnvelopeFormatError(f"CAR holds block {cid_str(cid)} twice")
            self._index[cid] = (end - data_len, data_len)
            pos = end
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
