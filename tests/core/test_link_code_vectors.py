"""FORMAT.md 11.5.1: a device link's short code, by the vector (tests/vectors/link-code-v1.json)
on CPython and in Chromium (WebCrypto): the same code, lookup id, key and sealed value; typed
forms parse; a sealed value altered anywhere, or opened with another code, is bad_link."""

import json

import pytest

from meshkit_web.core import short_code
from meshkit_web.core.errors import LinkError

from support.aio import run
from support.browser import call, in_page_core, ready
from support.constants import TESTS

VECTOR = json.loads((TESTS / "vectors" / "link-code-v1.json").read_text())


def test_the_vector_on_cpython(backend):
    code = short_code.code_from_random(bytes.fromhex(VECTOR["random_hex"]))
    assert (code, short_code.grouped(code)) == (VECTOR["code"], VECTOR["grouped"])
    assert (short_code.HKDF_SALT.decode(), short_code.LOOKUP_INFO.decode(), short_code.KEY_INFO.decode()) == \
        (VECTOR["salt"], VECTOR["lookup_info"], VECTOR["key_info"])
    lookup, key = short_code.code_keys(code)
    assert (lookup, key.hex(), short_code.aad(lookup).hex()) == (VECTOR["lookup"], VECTOR["key_hex"], VECTOR["aad_hex"])

    async def seal():
        nonce = bytes.fromhex(VECTOR["nonce_hex"])
        return bytes([1]) + nonce + bytes(await backend.aead_seal(await backend.aead_key(key), nonce,
                                                                  VECTOR["link"].encode(), short_code.aad(lookup)))
    assert run(seal()).hex() == VECTOR["sealed_hex"]
    assert run(short_code.open_link(backend, code, bytes.fromhex(VECTOR["sealed_hex"]))) == VECTOR["link"]


@pytest.mark.parametrize("typed", [VECTOR["grouped"], VECTOR["code"].lower(), VECTOR["typed"],
                                   " " + VECTOR["grouped"].replace("-", " - ") + " "])
def test_typed_forms_parse(typed):
    assert short_code.parse_code(typed) == VECTOR["code"]


@pytest.mark.parametrize("bad", ["", "KWX5R-ZH1P", "KWX5R-ZH1PKK", "KWX5R-ZH1PU", "KWX5R_ZH1PK", "KWX5R-ZH1P\u00e9",
                                 "meshkit-link:x"])
def test_what_is_not_a_code(bad):
    assert short_code.parse_code(bad) is None


def test_a_sealed_link_altered_or_under_another_code_does_not_open(backend):
    sealed = bytes.fromhex(VECTOR["sealed_hex"])
    other = short_code.code_from_random(bytes(7))
    for code, data in [(other, sealed), (VECTOR["code"], sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:]),
                       (VECTOR["code"], b"\x02" + sealed[1:]), (VECTOR["code"], sealed[:28]),
                       (VECTOR["code"], sealed + bytes(short_code.MAX_SEALED))]:
        with pytest.raises(LinkError):
            run(short_code.open_link(backend, code, data))


def test_the_vector_in_the_browser(page):
    ready(page)
    in_page_core(page)
    got = call(page, """
      const py = meshkitPy;
      py.globals.set('vector', JSON.stringify(arg));
      return JSON.parse(await py.runPythonAsync(`
import json
from meshkit_web.core import short_code
from meshkit_web.browser.webcrypto import WebCryptoBackend
v = json.loads(vector)
b = await WebCryptoBackend.create()
lookup, key = short_code.code_keys(short_code.code_from_random(bytes.fromhex(v["random_hex"])))
nonce = bytes.fromhex(v["nonce_hex"])
sealed = bytes([1]) + nonce + bytes(await b.aead_seal(await b.aead_key(key), nonce, v["link"].encode(),
                                                       short_code.aad(lookup)))
json.dumps({"lookup": lookup, "sealed_hex": sealed.hex(),
            "link": await short_code.open_link(b, v["code"], bytes.fromhex(v["sealed_hex"]))})
`));""", VECTOR)
    assert got == {k: VECTOR[k] for k in ("lookup", "sealed_hex", "link")}
