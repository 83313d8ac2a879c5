"""FORMAT.md section 12 as vectors (tests/vectors/app-data-v1.json, made by
scripts/make_app_data_vectors.py): app messages and app records open to what they say, or
fail with their error code, on CPython (PyNaCl) and in Chromium (WebCrypto in Pyodide); the
sealer gives the vectors' bytes again from their inputs."""

import json

import pytest

from meshkit_web.clients import app_data
from meshkit_web.crypto.nacl_backend import NaclBackend

from support.aio import run
from support.app_data_vector_cases import expected, outcome, person
from support.browser import call, in_page_core, ready
from support.constants import ROOT, TESTS

VECTORS = json.loads((TESTS / "vectors" / "app-data-v1.json").read_text())
CASES = [(c, False) for c in VECTORS["messages"]] + [(c, True) for c in VECTORS["records"]]


class FixedBackend(NaclBackend):
    def __init__(self, inputs):
        super().__init__()
        self._randoms = [bytes.fromhex(inputs["content_key"]), bytes.fromhex(inputs["nonce_prefix"])]
        self._ephemerals = [bytes.fromhex(e) for e in inputs["ephemerals"]]

    async def random_bytes(self, n):
        return self._randoms.pop(0)

    async def x25519_generate(self):
        return await self.x25519_import_private(self._ephemerals.pop(0))


@pytest.mark.parametrize("case,record", CASES, ids=[c["case"] for c, _ in CASES])
def test_app_data_vector(backend, case, record):
    async def go():
        people = {name: await person(backend, VECTORS, name) for name in VECTORS["people"]}
        return await outcome(backend, case, people, record)
    assert run(go()) == expected(case)


def test_the_sealer_gives_the_vectors_bytes_again():
    async def go():
        found = {}
        for key, inputs in VECTORS["inputs"].items():
            b = FixedBackend(inputs)
            sender = await person(b, VECTORS, inputs["from"])
            recipients = [(await person(b, VECTORS, name)).public for name in inputs["recipients"]]
            data = inputs["text"].encode() if "text" in inputs else bytes.fromhex(inputs["data"])
            if key == "record":
                _, car = await app_data.seal_record(b, sender, recipients, scope=inputs["scope"], name=inputs["name"],
                                                    version=inputs["version"], data=data, now=inputs["created"],
                                                    text="text" in inputs)
            else:
                _, car = await app_data.seal_message(b, sender, recipients, kind=inputs["kind"], data=data,
                                                     to=inputs["to"], now=inputs["created"], text="text" in inputs)
            found[key] = car.hex()
        return found
    cars = run(go())
    assert cars["message"] == VECTORS["messages"][0]["car"]
    assert cars["message2"] == VECTORS["messages"][1]["car"]
    assert cars["record"] == VECTORS["records"][0]["car"]


def test_the_vectors_cover_every_way_a_message_fails():
    codes = {c["error"] for c, _ in CASES if "error" in c}
    assert codes >= {"not_recipient", "cid_mismatch", "missing_block", "malformed", "bad_signature",
                     "identity_mismatch"}
    text = (ROOT / "docs" / "FORMAT.md").read_text()
    assert "app-data-v1.json" in text and VECTORS["messages"][0]["expect"]["cid"] in text


def test_app_data_vectors_in_the_browser(page):
    ready(page)
    in_page_core(page)
    result = call(page, """
      const py = meshkitPy;
      py.globals.set('vectors_json', arg.vectors);
      py.globals.set('runner_code', arg.runner);
      return JSON.parse(await py.runPythonAsync(`
import json
from meshkit_web.browser.webcrypto import WebCryptoBackend
cases = {}
exec(runner_code, cases)
json.dumps(await cases["run_cases"](await WebCryptoBackend.create(), json.loads(vectors_json)))
`));""", {"vectors": json.dumps(VECTORS), "runner": (TESTS / "support" / "app_data_vector_cases.py").read_text()})
    assert result == {case["case"]: expected(case) for case, _ in CASES}
