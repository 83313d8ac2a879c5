"""The same account Core in Pyodide with WebCrypto: the vectors' derivations (Ed25519 seed
imported non-extractable), the phrase (mnemonic's word list in the browser) and the chain."""

import json

from support.browser import call, in_page_core, ready
from support.constants import TESTS

VECTORS = json.loads((TESTS / "vectors" / "account-v1.json").read_text())

ACCOUNT_PY = """
import json
from meshkit_web.core.account import derive_recovery_keys, secret_from_phrase, verify_chain
from meshkit_web.browser.webcrypto import WebCryptoBackend
v = json.loads(vectors_json)
b = await WebCryptoBackend.create()
secret = secret_from_phrase(v["recovery"]["phrase"])
keys = await derive_recovery_keys(b, secret)
newest = await verify_chain(b, [bytes.fromhex(h) for h in v["chain"]])
signature = await b.ed25519_sign(keys.root_private, b"probe")
ok = await b.ed25519_verify(keys.root_key, b"probe", signature)
json.dumps({"secret": secret.hex(), "root_key": keys.root_key.hex(), "recovery_key": keys.recovery_key.hex(),
            "account_id": keys.account_id, "version": newest.version, "fingerprint": newest.fingerprint,
            "signs": ok, "extractable": bool(keys.root_private.key.extractable)})
"""


def test_account_core_runs_in_the_browser_with_webcrypto(page):
    ready(page)
    in_page_core(page)
    result = call(page, """
      const py = meshkitPy;
      py.globals.set('vectors_json', arg.vectors);
      return JSON.parse(await py.runPythonAsync(arg.code));""", {"vectors": json.dumps(VECTORS), "code": ACCOUNT_PY})
    assert "error" not in result, result
    r = VECTORS["recovery"]
    assert (result["secret"], result["root_key"], result["recovery_key"], result["account_id"]) == (
        r["secret"], r["root_key"], r["recovery_key"], r["account_id"])
    assert result["version"] == 3 and result["fingerprint"] == r["fingerprint"]
    assert result["signs"] is True and result["extractable"] is False
