"""Runs the cases of tests/vectors/app-data-v1.json with any CryptoBackend: imported by
tests/clients/test_app_data_vectors.py on CPython, and its text run by Pyodide in Chromium (so no
test-only imports here). Each case's outcome is "ok:<json>" or "error:<code>"."""

import json

from meshkit_web.clients.app_data import open_message, open_record
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import make_identity


async def person(backend, vectors, name):
    keys = vectors["people"][name]
    sig_private, sig_key = await backend.ed25519_import_private(bytes.fromhex(keys["sig_seed"]))
    enc_private, enc_key = await backend.x25519_import_private(bytes.fromhex(keys["enc_scalar"]))
    return await make_identity(backend, name, vectors["created"], sig_private, sig_key, enc_private, enc_key)


async def outcome(backend, case, people, record: bool) -> str:
    try:
        car = bytes.fromhex(case["car"])
        if record:
            opened = await open_record(backend, car, people[case["as"]], scope=case["scope"], name=case["name"])
            got = {"cid": cid_str(opened.root), "signer": opened.signer, "created": opened.header.created,
                   "version": opened.version, "text": opened.text, "data": opened.data.hex()}
        else:
            opened = await open_message(backend, car, people[case["as"]])
            got = {"cid": opened.cid, "sender": opened.sender, "created": opened.header.created, "kind": opened.kind,
                   "to": opened.to, "text": opened.text, "data": opened.data.hex()}
        return "ok:" + json.dumps(got, sort_keys=True)
    except MeshKitError as exc:
        return "error:" + exc.code


async def run_cases(backend, vectors) -> dict:
    people = {name: await person(backend, vectors, name) for name in vectors["people"]}
    out = {}
    for kind in ("messages", "records"):
        for case in vectors[kind]:
            out[case["case"]] = await outcome(backend, case, people, kind == "records")
    return out


def expected(case) -> str:
    return "error:" + case["error"] if "error" in case else "ok:" + json.dumps(case["expect"], sort_keys=True)
