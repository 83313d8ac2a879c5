"""Item 13: hostile CAR files fail with a typed error fast and in bounded memory: bounded
varints, header, roots, block count and block sizes; duplicates, empty and overlapping
frames refused; work proportional to what a legal envelope's CAR can hold."""

import hashlib
import os
import subprocess
import sys
import time
import tracemalloc

import pytest
from multiformats import varint

from meshkit_web.core import car, codec
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, to_link
from meshkit_web.core.errors import EnvelopeFormatError, LimitExceededError
from meshkit_web.core.limits import MAX_SEGMENT_BLOCK
from meshkit_web.stores.carfile import CarReader

SIZE = 9_500_000  # the review's hostile CAR
ROOT = cid_bytes(DAG_CBOR, codec.encode({"x": 1}))


def frame(cid: bytes, data: bytes) -> bytes:
    return varint.encode(len(cid) + len(data)) + cid + data


def fill(unit) -> bytes:
    out = bytearray(car.encode_header([ROOT]))
    i = 0
    while len(out) < SIZE:
        out += unit(i)
        i += 1
    return bytes(out)


def raw(i: int) -> bytes:
    return b"\x01\x55\x12\x20" + hashlib.sha256(i.to_bytes(8, "big")).digest()


def big_header(roots: int) -> bytes:
    body = codec.encode({"roots": [to_link(raw(i)) for i in range(roots)], "version": 1})
    return varint.encode(len(body)) + body


SHAPES = {
    # many tiny distinct blocks: more than one envelope can have
    "many-tiny-blocks": lambda: fill(lambda i: frame(raw(i), b"y")),
    # one block over and over
    "duplicates": lambda: fill(lambda i: frame(ROOT, b"z")),
    # frames with a CID and no data
    "zero-length": lambda: fill(lambda i: varint.encode(36) + raw(i)),
    # CIDv0 (dag-pb) frames: no envelope block is one
    "cidv0": lambda: fill(lambda i: varint.encode(35) + b"\x12\x20" + hashlib.sha256(bytes([i % 256])).digest() + b"d"),
    "huge-varint": lambda: car.encode_header([ROOT]) + b"\xff" * 8 + b"\x7f" + raw(0) + b"x" * 100,
    "endless-varint": lambda: car.encode_header([ROOT]) + b"\xff" * SIZE,
    "non-minimal-varint": lambda: car.encode_header([ROOT]) + b"\xa5\x80\x00" + raw(0) + b"x",
    "frame-past-eof": lambda: car.encode_header([ROOT]) + varint.encode(36 + 1000) + raw(0) + b"x" * 10,
    "overlapping-length": lambda: car.encode_header([ROOT]) + varint.encode(36 + 50) + raw(0) + frame(raw(1), b"w" * 50),
    "raw-block-over-max": lambda: car.encode_header([ROOT]) + frame(raw(0), b"\0" * (MAX_SEGMENT_BLOCK + 1)),
    "header-block-over-max": lambda: car.encode_header([ROOT]) + frame(ROOT, b"\0" * ((1 << 20) + 1)),
    "huge-header-length": lambda: varint.encode(SIZE) + b"\0" * 100,
    "header-many-roots": lambda: big_header(1500),
    "header-too-many-roots-small": lambda: big_header(car.MAX_ROOTS + 1),
    "zero-header": lambda: b"\x00" + b"\0" * 100,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_hostile_car_fails_typed_fast_and_small(tmp_path, shape):
    path = tmp_path / f"{shape}.car"
    path.write_bytes(SHAPES[shape]())
    tracemalloc.start()
    cpu = time.process_time()
    try:
        with pytest.raises((EnvelopeFormatError, LimitExceededError)):
            CarReader(str(path))
        used = time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used < 2.0, f"{shape}: {used:.2f} s of CPU"
    assert peak < 16 << 20, f"{shape}: {peak >> 20} MiB"


def test_car_must_be_a_regular_file():
    with pytest.raises(EnvelopeFormatError, match="regular file"):
        CarReader("/dev/zero")


def test_a_legal_car_at_the_block_limit_still_reads(tmp_path):
    blocks = [os.urandom(MAX_SEGMENT_BLOCK), os.urandom(16)]
    cids = [cid_bytes(RAW, b) for b in blocks]
    path = tmp_path / "ok.car"
    path.write_bytes(car.encode_header([ROOT]) + b"".join(frame(c, b) for c, b in zip(cids, blocks)))
    with CarReader(str(path)) as reader:
        assert reader.roots == [ROOT] and len(reader) == 2 and reader.get(cids[0]) == blocks[0]


@pytest.mark.parametrize("shape", ["many-tiny-blocks", "duplicates", "zero-length"])
def test_cli_open_of_a_hostile_car_is_fast(cli, tmp_path, shape):
    cli("identity", "create", "bob")
    path = tmp_path / "hostile.car"
    path.write_bytes(SHAPES[shape]())
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "meshkit_web", "--home", str(cli.home),
                           "open", str(path), "--as", "bob", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1
    assert lines[-2].split(":")[1].strip() in ("malformed", "limit_exceeded"), lines
    assert int(lines[-1].split()[1]) < 120 * 1024, "KiB of peak RSS"
    assert elapsed < 10 and not (tmp_path / "out").exists()


MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
sys.stdout.write(proc.stderr)
print("MAXRSS", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(proc.returncode)
"""
