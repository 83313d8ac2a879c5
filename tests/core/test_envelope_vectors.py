"""FORMAT.md's worked example and its failure cases as vectors (tests/vectors/envelope-v1.json,
made by scripts/make_envelope_vectors.py): every success case must open to its plaintext and
every failure case fail with its error code, on CPython (PyNaCl) and in Chromium (WebCrypto
in Pyodide), through the same Core."""

import json

import pytest

from support.aio import run
from support.browser import call, in_page_core, ready
from support.constants import ROOT, TESTS
from support.envelope_vector_cases import expected, outcome, person

VECTORS = json.loads((TESTS / "vectors" / "envelope-v1.json").read_text())


def test_the_worked_example_is_the_one_in_format_md():
    text = (ROOT / "docs" / "FORMAT.md").read_text()
    hello = VECTORS["examples"]["hello"]
    assert hello["root"] in text
    segment = next(cid for cid in hello["blocks"] if cid != hello["root"])
    assert segment in text and hello["blocks"][segment] in text.replace(" ", "")


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["case"] for c in VECTORS["cases"]])
def test_envelope_vector(backend, case):
    async def go():
        people = {name: await person(backend, VECTORS, name) for name in VECTORS["people"]}
        return await outcome(backend, VECTORS, case, people)
    assert run(go()) == expected(case)


def test_the_vectors_cover_every_way_an_open_fails():
    codes = {case["error"] for case in VECTORS["cases"] if "error" in case}
    assert codes >= {"not_recipient", "cid_mismatch", "missing_block", "malformed", "bad_signature",
                     "unsupported_version", "segment_auth_failed", "truncated", "unwrap_failed"}


def test_envelope_vectors_in_the_browser(page):
    ready(page)
    in_page_core(page)
    runner = (TESTS / "support" / "envelope_vector_cases.py").read_text()
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
`));""", {"vectors": json.dumps(VECTORS), "runner": runner})
    assert result == {case["case"]: expected(case) for case in VECTORS["cases"]}
