"""Runs the cases of tests/vectors/envelope-v1.json with any CryptoBackend: imported by
tests/core/test_envelope_vectors.py on CPython, and its text run by Pyodide in Chromium (so no
test-only imports here). Each case's outcome is "plaintext:<hex>" or "error:<code>"."""

import hashlib
import json

from meshkit_web.core.cid import cid_str, parse_cid
from meshkit_web.core.envelope import open_envelope
from meshkit_web.core.errors import MeshKitError, MissingBlockError
from meshkit_web.core.identity import make_identity


async def person(backend, vectors, name):
    keys = vectors["people"][name]
    sig_private, sig_key = await backend.ed25519_import_private(bytes.fromhex(keys["sig_seed"]))
    enc_private, enc_key = await backend.x25519_import_private(bytes.fromhex(keys["enc_scalar"]))
    return await make_identity(backend, name, vectors["created"], sig_private, sig_key, enc_private, enc_key)


async def outcome(backend, vectors, case, people) -> str:
    example = vectors["examples"][case["example"]]
    blocks = dict(example["blocks"])
    blocks.update(case.get("blocks", {}))

    async def get_block(cid: bytes) -> bytes:
        found = blocks.get(cid_str(cid))
        if found is None:
            raise MissingBlockError(f"no block {cid_str(cid)}")
        return bytes.fromhex(found)
    try:
        opened = await open_envelope(backend, parse_cid(case.get("root", example["root"])), get_block,
                                     people[case["as"]])
        plaintext = b"".join([chunk async for chunk in opened.plaintext()])
        plain = ("sha256:" + hashlib.sha256(plaintext).hexdigest() if "plaintext_sha256" in case
                 else "plaintext:" + plaintext.hex())
        return plain + (";metadata:" + json.dumps(opened.metadata.to_json(), sort_keys=True)
                        if opened.metadata is not None else "")
    except MeshKitError as exc:
        return "error:" + exc.code


async def run_cases(backend, vectors) -> dict:
    people = {name: await person(backend, vectors, name) for name in vectors["people"]}
    return {case["case"]: await outcome(backend, vectors, case, people) for case in vectors["cases"]}


def expected(case) -> str:
    if "error" in case:
        return "error:" + case["error"]
    if "plaintext_sha256" in case:
        return "sha256:" + case["plaintext_sha256"]
    meta = ";metadata:" + json.dumps(case["metadata"], sort_keys=True) if "metadata" in case else ""
    return "plaintext:" + case["plaintext"] + meta
