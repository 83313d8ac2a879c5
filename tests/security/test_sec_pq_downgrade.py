"""Downgrade protection for post-quantum recipients (issue 26): a gateway that serves an older
classic record of a hybrid identity, or strips a device's X-Wing key from an account record,
cannot make an unmodified client seal classic to that recipient. The real gateway behind the
lying proxy (tests/support/malicious_gateway.py), the Python API as is."""

import json

import pytest

from meshkit_web import MeshKit
from meshkit_web.core import codec
from meshkit_web.core.cid import parse_cid
from meshkit_web.core.envelope import read_header
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.hpke import KEM_XWING
from meshkit_web.core.identity import make_identity

from support.aio import run


def _posts(proxy) -> int:
    return sum(1 for method, _ in proxy.seen if method in ("POST", "PUT"))


def test_an_older_classic_record_of_a_hybrid_recipient_is_refused(malicious_gateway, tmp_path, backend):
    url = malicious_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as alice, \
                MeshKit.connect(url, home=tmp_path / "bob") as bob:
            await alice.identity.create("alice", account=False)
            bob_id = (await bob.identity.create("bob", account=False)).id
            first = await alice.seal(b"first", from_="alice", to=bob_id)  # bob's record from the directory
            client = await alice._client("alice")
            header = await read_header(backend, parse_cid(first.root), client.get_block)
            assert {e.recipient: e.kem for e in header.recipients}[bob_id] == KEM_XWING
            # the same identity's keys, self-signed without the X-Wing key: a valid "older" record
            own = await bob._store.load("bob")
            classic = await make_identity(backend, "bob", own.public.created, own.sig_private, own.public.sig_key,
                                          own.enc_private, own.public.enc_key)
            assert classic.id == bob_id and classic.public.pq_key is None
            malicious_gateway.on("GET", rf"^/v1/directory/{bob_id}$",
                                 malicious_gateway.rewrite_json(lambda _: classic.public.to_json()))
            before = _posts(malicious_gateway)
            with pytest.raises(MeshKitError) as refused:
                await alice.seal(b"second", from_="alice", to=bob_id)
            assert refused.value.code == "identity_mismatch"
            assert _posts(malicious_gateway) == before  # nothing was sealed or uploaded
            # nor does it replace a hybrid contact: handed the classic record, the home refuses it
            await alice.contacts.add(json.dumps((await bob._store.load("bob")).public.to_json()))
            with pytest.raises(MeshKitError) as replaced:
                await alice.contacts.add(classic.public.to_json())
            assert replaced.value.code == "identity_mismatch"
    run(go())


def test_a_device_certificate_stripped_of_its_x_wing_key_does_not_check(malicious_gateway, tmp_path, backend):
    """The account chain carries each device's X-Wing key in its certificate, which the
    device's consent names: a record served with it stripped is bad_signature, and nothing is
    sealed to the account."""
    url = malicious_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as alice, \
                MeshKit.connect(url, home=tmp_path / "bob") as bob:
            await alice.identity.create("alice", account=False)
            made = await bob.identity.create("bob")
            account = made.account

            def strip(reply):
                out = []
                for row in reply["records"]:
                    obj = codec.decode_map(codec.b64d(row), "account")
                    for cert in obj["devices"]:
                        cert.pop("pq_key", None)
                    out.append(codec.b64e(codec.encode(obj)))
                return {**reply, "records": out}
            malicious_gateway.on("GET", rf"^/v1/accounts/{account}\?", malicious_gateway.rewrite_json(strip))
            before = _posts(malicious_gateway)
            with pytest.raises(MeshKitError) as refused:
                await alice.seal(b"to bob's account", from_="alice", to=account)
            assert refused.value.code == "bad_signature"
            assert _posts(malicious_gateway) == before
    run(go())

