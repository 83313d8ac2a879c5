"""Writes tests/vectors/envelope-v1.json: FORMAT.md section 9's worked example and more,
as success cases (the plaintext an open must give) and failure cases (the error code an
open must give), in the manner of age's testkit. tests/core/test_envelope_vectors.py reads it.

The "random" inputs (content keys, nonce prefixes, HPKE ephemeral keys) are fixed here, and
Ed25519 signatures are deterministic, so running this again gives the same bytes; change
the format, FORMAT.md and this file together.
    .venv/bin/python scripts/make_envelope_vectors.py
"""

import asyncio
import hashlib
import json
import pathlib

from meshkit_web.core import codec, envelope
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str, to_link
from meshkit_web.core.identity import make_identity
from meshkit_web.core.signing import sign_map
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "envelope-v1.json"
T0 = 1_700_000_000
PEOPLE = {"alice": ("11" * 32, "12" * 32), "bob": ("21" * 32, "22" * 32), "carol": ("31" * 32, "32" * 32)}


class FixedBackend(NaclBackend):
    """Injects the 'random' values (section 9): content key, nonce prefix, then ephemerals."""

    def __init__(self, randoms, ephemerals):
        super().__init__()
        self._randoms, self._ephemerals = list(randoms), list(ephemerals)

    async def random_bytes(self, n):
        return self._randoms.pop(0)

    async def x25519_generate(self):
        return await self.x25519_import_private(self._ephemerals.pop(0))


async def person(b, name):
    sig_seed, enc_scalar = (bytes.fromhex(h) for h in PEOPLE[name])
    sig_private, sig_key = await b.ed25519_import_private(sig_seed)
    enc_private, enc_key = await b.x25519_import_private(enc_scalar)
    return await make_identity(b, name, T0, sig_private, sig_key, enc_private, enc_key)


async def sealed(randoms, ephemerals, plaintext, to, segment_size, metadata=None):
    b = FixedBackend(randoms, ephemerals)
    alice = await person(b, "alice")
    recipients = [(await person(b, name)).public for name in to]
    blocks = [blk async for blk in envelope.seal(b, [plaintext], sender=alice, recipients=recipients, now=T0,
                                                 segment_size=segment_size, include_sender=False,
                                                 metadata=metadata)]
    return blocks[-1].cid, {cid_str(blk.cid): blk.data.hex() for blk in blocks}


async def resign(b, header_hex: str, signer: str = "alice", **changes) -> tuple[str, str]:
    """(root, header hex) of a header with ``changes``, signed again by ``signer``'s key."""
    obj = codec.decode_map(bytes.fromhex(header_hex), "envelope")
    obj.pop("sig")
    obj.update(changes)
    for key in [k for k, v in changes.items() if v is None]:  # None: leave the key out
        obj.pop(key)
    data = codec.encode(await sign_map(b, (await person(b, signer)).sig_private, "envelope", obj))
    return cid_str(cid_bytes(DAG_CBOR, data)), data.hex()


def flipped(hex_text: str, at: int) -> str:
    data = bytearray(bytes.fromhex(hex_text))
    data[at] ^= 0x01
    return data.hex()


async def main() -> None:
    b = NaclBackend()
    hello_root, hello = await sealed([bytes(range(32)), bytes.fromhex("a0a1a2a3a4a5a6")], [b"\x33" * 32],
                                     b"hello", ["bob"], 64)
    text = bytes((i * 7) % 251 for i in range(150))
    multi_root, multi = await sealed([bytes(range(32, 64)), bytes.fromhex("b0b1b2b3b4b5b6")],
                                     [b"\x44" * 32, b"\x55" * 32], text, ["bob", "carol"], 64,
                                     metadata={"name": "../Q3 plans\u202e.pdf", "type": "application/pdf",
                                               "mtime": T0 - 60})
    # the tree form (3.5): 4098 segments of 64 bytes, so the header links two index blocks
    long_text = bytes((i * 13) % 251 for i in range(envelope.INDEX_FANOUT * 64 + 100))
    tree_root, tree = await sealed([bytes(range(64, 96)), bytes.fromhex("c0c1c2c3c4c5c6")], [b"\x66" * 32],
                                   long_text, ["bob"], 64)
    hello_root, multi_root, tree_root = cid_str(hello_root), cid_str(multi_root), cid_str(tree_root)
    tree_header = codec.decode_map(bytes.fromhex(tree[tree_root]), "envelope")
    first_index, last_index = (cid_str(bytes(link)) for link in tree_header["index"])
    hello_segment = next(c for c in hello if c != hello_root)
    header = codec.decode_map(bytes.fromhex(multi[multi_root]), "envelope")
    segs = header["segments"]

    # the sender's name had a bidi override (dropped when sealing) and a directory (dropped on saving)
    described = {"name": "../Q3 plans.pdf", "type": "application/pdf", "size": len(text), "mtime": T0 - 60,
                 "saveAs": "Q3 plans.pdf"}
    cases = [
        {"case": "the worked example (section 9): bob opens", "example": "hello", "as": "bob",
         "plaintext": b"hello".hex()},
        {"case": "three segments, two recipients: bob opens", "example": "multi", "as": "bob", "plaintext": text.hex(),
         "metadata": described},
        {"case": "three segments, two recipients: carol opens", "example": "multi", "as": "carol",
         "plaintext": text.hex(), "metadata": described},
        {"case": "not a recipient (the sender left herself out)", "example": "hello", "as": "alice",
         "error": "not_recipient"},
        {"case": "a segment's bytes changed", "example": "hello", "as": "bob",
         "blocks": {hello_segment: flipped(hello[hello_segment], 3)}, "error": "cid_mismatch"},
        {"case": "a segment missing", "example": "hello", "as": "bob", "blocks": {hello_segment: None},
         "error": "missing_block"},
        {"case": "the header's bytes changed under its CID", "example": "hello", "as": "bob",
         "blocks": {hello_root: flipped(hello[hello_root], 40)}, "error": "cid_mismatch"},
        {"case": "the root is a raw block, not a header", "example": "hello", "as": "bob", "root": hello_segment,
         "error": "malformed"},
    ]

    long_sha = hashlib.sha256(long_text).hexdigest()
    cases += [
        {"case": "4098 segments, the header linking two index blocks: bob opens", "example": "tree", "as": "bob",
         "plaintext_sha256": long_sha},
        {"case": "an index block's bytes changed", "example": "tree", "as": "bob",
         "blocks": {last_index: flipped(tree[last_index], 30)}, "error": "cid_mismatch"},
        {"case": "an index block missing", "example": "tree", "as": "bob", "blocks": {first_index: None},
         "error": "missing_block"},
    ]
    short_index = codec.encode({"meshkit": envelope.INDEX_KIND, "v": 1, "segments": codec.decode_map(
        bytes.fromhex(tree[last_index]), "index")["segments"] + [tree_header["index"][0]]})
    short_cid = cid_str(cid_bytes(DAG_CBOR, short_index))
    root, data = await resign(b, tree[tree_root], index=[tree_header["index"][0], to_link(cid_bytes(DAG_CBOR, short_index))])
    cases.append({"case": "an index block linking something other than segments (re-signed)", "example": "tree",
                  "as": "bob", "root": root, "blocks": {root: data, short_cid: short_index.hex()}, "error": "malformed"})
    root, data = await resign(b, tree[tree_root], index=None,
                              segments=[link for cid in (first_index, last_index) for link in
                                        codec.decode_map(bytes.fromhex(tree[cid]), "index")["segments"]])
    cases.append({"case": "4098 segments listed in the header itself (re-signed)", "example": "tree", "as": "bob",
                  "root": root, "blocks": {root: data}, "error": "malformed"})

    async def variant(case, error, signer="alice", example="multi", **changes):
        source = multi if example == "multi" else hello
        root, data = await resign(b, source[multi_root if example == "multi" else hello_root], signer, **changes)
        cases.append({"case": case, "example": example, "as": "bob", "root": root, "blocks": {root: data},
                      "error": error})

    await variant("a header signed by someone other than its sender", "bad_signature", signer="carol")
    await variant("a header of version 2", "unsupported_version", v=2)
    await variant("a header of another crypto suite", "unsupported_version", suite=2)
    await variant("segments reordered (re-signed by the sender)", "segment_auth_failed", segments=[segs[1], segs[0], segs[2]])
    await variant("the last segment dropped, size shortened to match (re-signed)", "truncated",
                  segments=segs[:2], size=128, meta=None)
    await variant("a size that needs another segment than listed (re-signed)", "malformed", size=200)
    wrapped = [dict(r) for r in header["recipients"]]
    for r in wrapped:
        r["wrapped"] = bytes(x ^ 0xFF for x in r["wrapped"][:4]) + r["wrapped"][4:]
    await variant("every wrapped key altered (re-signed)", "unwrap_failed", recipients=wrapped)
    await variant("the key commitment altered (re-signed)", "unwrap_failed", commitment=b"\x00" * 32)
    await variant("a recipient listed twice (re-signed)", "malformed", recipients=header["recipients"][:1] * 2)
    await variant("the sealed file metadata altered (re-signed)", "malformed",
                  meta=bytes([header["meta"][0] ^ 1]) + header["meta"][1:])
    await variant("sealed file metadata too short to hold a tag (re-signed)", "malformed", meta=b"\x00" * 8)
    # a longer segment under its own CID, linked by a re-signed header
    longer = bytes.fromhex(hello[hello_segment]) + b"\x00"
    longer_cid = cid_bytes(RAW, longer)
    obj = codec.decode_map(bytes.fromhex(hello[hello_root]), "envelope")
    root, data = await resign(b, hello[hello_root], segments=[to_link(longer_cid)] + list(obj["segments"][1:]))
    cases.append({"case": "a segment longer than the header says (re-signed)", "example": "hello", "as": "bob",
                  "root": root, "blocks": {root: data, cid_str(longer_cid): longer.hex()},
                  "error": "segment_auth_failed"})
    # the same header, not in canonical DAG-CBOR (the integer 1 of "v" written in two bytes)
    canonical = bytes.fromhex(hello[hello_root])
    at = canonical.index(bytes.fromhex("617601"))
    loose = canonical[:at] + bytes.fromhex("61761801") + canonical[at + 3:]
    loose_root = cid_str(cid_bytes(DAG_CBOR, loose))
    cases.append({"case": "a header not in canonical DAG-CBOR", "example": "hello", "as": "bob", "root": loose_root,
                  "blocks": {loose_root: loose.hex()}, "error": "malformed"})

    OUT.write_text(json.dumps({
        "about": "FORMAT.md sections 3, 4 and 9: envelopes on fixed inputs. Each case opens 'root' (default: the "
                 "example's root) as 'as' with the example's blocks, 'blocks' replacing or (null) removing some; "
                 "the open must give 'plaintext' (hex; 'plaintext_sha256': its SHA-256) or fail with 'error' (a MeshKitError code).",
        "people": {name: {"sig_seed": s, "enc_scalar": e} for name, (s, e) in PEOPLE.items()},
        "created": T0,
        "examples": {"hello": {"root": hello_root, "blocks": hello}, "multi": {"root": multi_root, "blocks": multi},
                     "tree": {"root": tree_root, "blocks": tree}},
        "cases": cases,
    }, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


asyncio.run(main())
