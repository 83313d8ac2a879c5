"""Independent oracle: the reference JavaScript IPLD stack reads what the CLI writes.

``tests/js/read_car.mjs`` parses our CAR files with ``@ipld/car``, recomputes every
block's CID with ``multiformats`` and decodes the header with ``@ipld/dag-cbor`` (exact
versions pinned in ``tests/js/package-lock.json``; installed by ``scripts/setup.sh``
with ``npm ci --prefix tests/js``). None of that code is ours, so agreement on roots,
block CIDs, link order and sizes shows the files are interoperable CARv1/DAG-CBOR, not
just self-consistent. A missing node or npm install is a test failure, never a skip.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from meshkit_web.core.cid import DAG_CBOR, RAW, cid_str, parse_cid
from meshkit_web.core.envelope import parse_header
from meshkit_web.stores.carfile import CarReader

from support.constants import ROOT

JS_DIR = os.path.join(ROOT, "tests", "js")
READ_CAR = os.path.join(JS_DIR, "read_car.mjs")
SETUP_HINT = "run scripts/setup.sh (it runs `npm ci --prefix tests/js`)"


def _oracle_prerequisites() -> str:
    """Path of ``node``, after checking the pinned npm packages are installed; else FAIL."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"the JS oracle needs `node` (v20+) on PATH; install Node.js, then {SETUP_HINT}",
                    pytrace=False)
    with open(os.path.join(JS_DIR, "package.json")) as f:
        pins = json.load(f)["dependencies"]
    for name, pinned in pins.items():
        manifest = os.path.join(JS_DIR, "node_modules", *name.split("/"), "package.json")
        if not os.path.exists(manifest):
            pytest.fail(f"npm package {name} is not installed in tests/js/node_modules; {SETUP_HINT}",
                        pytrace=False)
        with open(manifest) as f:
            installed = json.load(f)["version"]
        if installed != pinned:
            pytest.fail(f"tests/js/node_modules has {name} {installed}, package.json pins {pinned}; "
                        f"{SETUP_HINT}", pytrace=False)
    return node


def read_with_node(car_path) -> subprocess.CompletedProcess:
    node = _oracle_prerequisites()
    return subprocess.run([node, READ_CAR, str(car_path)], capture_output=True, text=True, timeout=120)


def oracle_ok(car_path) -> dict:
    proc = read_with_node(car_path)
    assert proc.returncode == 0, f"read_car.mjs rejected {car_path} (exit {proc.returncode}): {proc.stderr}"
    return json.loads(proc.stdout)


def meshkit(home, *args):
    proc = subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"meshkit {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One home holding alice (sender), bob and dave; maps name -> identity id."""
    path = tmp_path_factory.mktemp("oracle") / "home"
    ids = {name: json.loads(meshkit(path, "identity", "create", name).stdout)["id"]
           for name in ("alice", "bob", "dave")}
    return path, ids


# name -> (plaintext size, extra seal args, recipients besides the sender)
CASES = {
    "empty": (0, [], ["bob"]),
    "one-segment": (700, [], ["bob"]),
    "three-segments": (3000, ["--segment-size", "1024"], ["bob"]),
    "exact-multiple": (4096, ["--segment-size", "1024"], ["bob"]),
    "multi-recipient": (5000, ["--segment-size", "1024"], ["bob", "dave"]),
    "no-self": (1500, ["--segment-size", "1024", "--no-self"], ["bob", "dave"]),
}


@pytest.fixture(scope="module")
def sealed(home, tmp_path_factory):
    """Seal each case once: name -> (car path, root printed by the CLI, plaintext, expected recipient ids)."""
    path, ids = home
    out = tmp_path_factory.mktemp("cars")
    result = {}
    for name, (size, extra, to) in CASES.items():
        plain = out / f"{name}.bin"
        plain.write_bytes(os.urandom(size))
        car = out / f"{name}.car"
        args = ["seal", plain, "--from", "alice", "--car", car, *extra]
        for recipient in to:
            args += ["--to", recipient]
        printed = meshkit(path, *args).stdout.strip().splitlines()[-1]
        expected = {ids[r] for r in to} | (set() if "--no-self" in extra else {ids["alice"]})
        result[name] = (car, printed, plain.read_bytes(), expected)
    return result


@pytest.mark.parametrize("case", list(CASES))
def test_js_client_reads_our_car(case, sealed, home):
    car, printed, plaintext, expected_recipients = sealed[case]
    _, ids = home
    js = oracle_ok(car)

    with CarReader(str(car)) as reader:
        ours_roots = [cid_str(r) for r in reader.roots]
        root = reader.roots[0]
        header = parse_header(root, reader.get(root))
        ours_lengths = {cid_str(c): len(reader.get(c)) for c in (root, *header.segments)}
        # Block sets: node's list is duplicate-free, as large as our index, and each is in it.
        js_cids = [b["cid"] for b in js["blocks"]]
        assert len(set(js_cids)) == len(js_cids) == len(reader)
        assert all(parse_cid(c) in reader for c in js_cids)
        for block in js["blocks"]:
            assert block["length"] == len(reader.get(parse_cid(block["cid"])))

    # Roots: node, our reader and the CLI agree.
    assert js["car_version"] == 1
    assert js["roots"] == ours_roots == [printed]
    assert printed.startswith("bafy")

    # Every CID recomputed by multiformats equals the CID in the file.
    assert js["mismatches"] == []
    for block in js["blocks"]:
        assert block["computed"] == block["cid"]
        assert block["version"] == 1 and block["multihash"] == 0x12

    # Layout: segments first, in link order, as raw blocks; the DAG-CBOR header last.
    segment_strs = [cid_str(s) for s in header.segments]
    assert [b["cid"] for b in js["blocks"]] == segment_strs + [printed]
    assert [b["codec"] for b in js["blocks"]] == [RAW] * len(segment_strs) + [DAG_CBOR]
    assert {b["cid"]: b["length"] for b in js["blocks"]} == ours_lengths
    assert [b["length"] for b in js["blocks"][:-1]] == [
        header.expected_segment_length(i) for i in range(len(header.segments))]

    # The header as @ipld/dag-cbor decodes it matches our parse, field by field.
    jh = js["header"]
    assert js["header_reencodes_identically"] is True  # our bytes are canonical DAG-CBOR
    assert jh["segments"] == segment_strs
    assert jh["segment_codecs"] == [RAW] * len(segment_strs)
    assert jh["size"] == header.size == len(plaintext)
    assert jh["segment_size"] == header.segment_size
    assert (jh["meshkit"], jh["v"], jh["suite"]) == ("envelope", 1, header.suite)
    assert jh["created"] == header.created
    assert jh["recipient_ids"] == [r.recipient for r in header.recipients]
    assert set(jh["recipient_ids"]) == expected_recipients
    assert len(jh["recipient_ids"]) == len(expected_recipients)
    assert jh["sender_id"] == header.sender_id == ids["alice"]
    assert jh["nonce_prefix_hex"] == header.nonce_prefix.hex()
    assert jh["commitment_hex"] == header.commitment.hex()
    assert jh["keys"] == sorted(["meshkit", "v", "suite", "segment_size", "size", "nonce_prefix", "commitment",
                                 "segments", "recipients", "sender", "created", "sig", "meta"])  # the CLI seals the file's name


def test_segment_counts_cover_the_cases(sealed):
    """Guard the fixture: the cases really exercise 1, several and exact-multiple segment counts."""
    counts = {}
    for name, (car, _, _, _) in sealed.items():
        with CarReader(str(car)) as reader:
            counts[name] = len(parse_header(reader.roots[0], reader.get(reader.roots[0])).segments)
    assert counts == {"empty": 1, "one-segment": 1, "three-segments": 3, "exact-multiple": 4,
                      "multi-recipient": 5, "no-self": 2}


def _flip_inside(car, tmp_path, which):
    """Copy ``car`` with one byte flipped in the middle of a block's data; return (copy, that block's CID)."""
    blob = car.read_bytes()
    with CarReader(str(car)) as reader:
        root = reader.roots[0]
        header = parse_header(root, reader.get(root))
        target = {"first-segment": header.segments[0], "middle-segment": header.segments[1],
                  "last-segment": header.segments[-1], "header": root}[which]
        data = reader.get(target)
    start = blob.index(target + data) + len(target)  # the frame: CID then data
    assert blob.count(data) == 1
    tampered = bytearray(blob)
    tampered[start + len(data) // 2] ^= 0x01
    copy = tmp_path / f"tampered-{which}.car"
    copy.write_bytes(bytes(tampered))
    return copy, cid_str(target)


@pytest.mark.parametrize("which", ["first-segment", "middle-segment", "last-segment", "header"])
def test_oracle_detects_a_flipped_byte(which, sealed, tmp_path):
    """The oracle really hashes: one flipped bit in a block's data makes node exit non-zero."""
    car = sealed["three-segments"][0]
    oracle_ok(car)  # control: the untouched file passes
    copy, target = _flip_inside(car, tmp_path, which)
    assert copy.stat().st_size == car.stat().st_size
    proc = read_with_node(copy)
    assert proc.returncode == 1, f"node accepted a tampered CAR: {proc.stdout} {proc.stderr}"
    assert f"block {target} does not match its CID" in proc.stderr
    js = json.loads(proc.stdout)
    assert js["mismatches"] == [target]
    bad = [b for b in js["blocks"] if b["cid"] == target]
    assert len(bad) == 1 and bad[0]["computed"] != target
