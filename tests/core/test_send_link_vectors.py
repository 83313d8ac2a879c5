"""FORMAT.md 5.4: the send-link vector, on CPython (libsodium) and in Chromium (WebCrypto):
both derive the same throwaway identity from the same secret, and links parse strictly."""

import json

import pytest

from meshkit_web.core.cid import parse_cid
from meshkit_web.core.errors import InvalidArgumentError
from meshkit_web.core.send_link import link_identity, parse_send_link, send_fragment

from support.aio import run
from support.browser import call, in_page_core, ready
from support.constants import TESTS

VECTOR = json.loads((TESTS / "vectors" / "send-link-v1.json").read_text())


def derived(identity) -> dict:
    return {"id": identity.id, "sig_key_hex": identity.public.sig_key.hex(),
            "enc_key_hex": identity.public.enc_key.hex(), "name": identity.public.name, "created": identity.public.created}


def test_the_vector_on_cpython(backend):
    secret = bytes.fromhex(VECTOR["secret_hex"])
    assert derived(run(link_identity(backend, secret))) == {k: VECTOR[k] for k in derived_keys()}
    assert send_fragment(parse_cid(VECTOR["root"]), secret) == VECTOR["fragment"]
    assert parse_send_link("https://x.example/#" + VECTOR["fragment"]) == (parse_cid(VECTOR["root"]), secret)


def test_the_link_identity_is_post_quantum_where_the_backend_holds_x_wing_keys(backend):
    """The seed is HKDF(secret, "meshkit-web/v1 send-link pq key"): the record (and so what a
    sender seals to) lists the X-Wing key, and the holder derives its private half."""
    from meshkit_web.core.hpke import KEM_XWING
    identity = run(link_identity(backend, bytes.fromhex(VECTOR["secret_hex"])))
    assert identity.public.pq_key.hex() == VECTOR["pq_key_hex"] and identity.public.kem == KEM_XWING
    assert identity.public.to_bytes().hex() == VECTOR["record_hex"]
    assert backend.export_private(identity.pq_private).hex() == VECTOR["pq_seed_hex"]
    classic = run(link_identity(backend, bytes.fromhex(VECTOR["secret_hex"]), pq=False))
    assert classic.id == identity.id and classic.public.pq_key is None


def derived_keys():
    return ("id", "sig_key_hex", "enc_key_hex", "name", "created")


@pytest.mark.parametrize("bad", ["", "send=", "contact=" + VECTOR["fragment"][5:], VECTOR["fragment"][:-1],
                                 VECTOR["fragment"] + "A", VECTOR["fragment"].replace("bafy", "bafz"),
                                 "send=" + "b" * 2000, VECTOR["fragment"].replace(".", "")])
def test_damaged_links_are_refused(bad):
    with pytest.raises(InvalidArgumentError):
        parse_send_link(bad)


def test_the_vector_in_the_browser(page):
    ready(page)
    in_page_core(page)
    got = call(page, """
      const py = meshkitPy;
      py.globals.set('secret_hex', arg);
      return JSON.parse(await py.runPythonAsync(`
import json
from meshkit_web.core.send_link import link_identity
from meshkit_web.browser.webcrypto import WebCryptoBackend
i = await link_identity(await WebCryptoBackend.create(), bytes.fromhex(secret_hex))
json.dumps({"id": i.id, "sig_key_hex": i.public.sig_key.hex(), "enc_key_hex": i.public.enc_key.hex(),
            "name": i.public.name, "created": i.public.created})
`));""", VECTOR["secret_hex"])
    assert got == {k: VECTOR[k] for k in derived_keys()}
