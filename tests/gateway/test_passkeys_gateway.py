"""The gateway's passkey routes (FORMAT.md 11.7), on SQLite and PostgreSQL: only a current
device of the account stores, lists and removes its wraps, each naming that account and
credential, at most passkeys_per_account; anyone fetches one by lookup id (rate-limited per
address), getting the wrap alone; another account reads, replaces and removes none."""

import os

import httpx
import pytest

from meshkit_web.clients.accounts import create_account, remove_devices
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.identity import create_identity
from meshkit_web.core.passkey import lookup_text, wrap_secret
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import error_of, run
from support.constants import NOW
from support.servers import ServerThread

LOOKUPS_PER_MINUTE = 6


@pytest.fixture
def gateway(tmp_path, metadata_url):
    config = GatewayConfig(data_dir=str(tmp_path / "data"), metadata_url=metadata_url, passkeys_per_account=3,
                           anonymous_limits={"passkeys": f"{LOOKUPS_PER_MINUTE}/minute"})
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore")))).start()
    yield server.url
    server.stop()


async def wrap_for(backend, account: str, credential: bytes, prf: bytes) -> tuple[str, dict]:
    wrap = await wrap_secret(backend, prf, account=account, credential=credential, secret=os.urandom(32), created=NOW)
    return lookup_text(prf), {"credential": codec.b64e(credential), "data": codec.b64e(wrap.data)}




def test_passkey_routes_are_scoped_to_the_account_and_bounded(gateway, backend):
    async def go():
        alice_dev, bob_dev, plain = [await create_identity(backend, n, NOW) for n in ("alice", "bob", "plain")]
        async with GatewayClient(gateway, backend, alice_dev) as alice, \
                GatewayClient(gateway, backend, bob_dev) as bob, GatewayClient(gateway, backend, plain) as loner:
            _, a_record = await create_account(alice, "alice")
            _, b_record = await create_account(bob, "bob")
            await loner.publish()
            cred = os.urandom(32)
            lookup, body = await wrap_for(backend, a_record.id, cred, os.urandom(32))
            put = f"/v1/passkeys/{lookup}"

            async with httpx.AsyncClient() as raw:  # no token: refused
                assert (await raw.put(gateway + put, json=body)).status_code == 401
                assert (await raw.get(gateway + "/v1/passkeys")).status_code == 401
            assert await error_of(loner.request("PUT", put, json_body=body)) == "forbidden"  # no account
            assert await error_of(bob.request("PUT", put, json_body=body)) == "forbidden"  # names alice's account
            wrong_cred = {**body, "credential": codec.b64e(os.urandom(32))}
            assert await error_of(alice.request("PUT", put, json_body=wrong_cred)) == "forbidden"
            assert await error_of(alice.request("PUT", put, json_body={**body, "data": codec.b64e(b"\xa0")})) \
                == "malformed"
            assert await error_of(alice.request("PUT", put, json_body={**body, "data": "A" * 4000})) == "malformed"
            assert await error_of(alice.request("PUT", "/v1/passkeys/short", json_body=body)) == "malformed"
            assert (await alice.request("PUT", put, json_body=body)).json()["credential"] == body["credential"]
            assert (await alice.request("PUT", put, json_body=body)).status == 200  # the same again: one row

            # bob's device neither lists, replaces nor removes alice's passkey
            assert (await bob.request("GET", "/v1/passkeys")).json() == {"passkeys": []}
            _, bobs = await wrap_for(backend, b_record.id, cred, os.urandom(32))
            assert await error_of(bob.request("PUT", put, json_body=bobs)) == "conflict"
            assert await error_of(bob.request("DELETE", "/v1/passkeys?credential=" + body["credential"])) \
                == "missing_metadata"
            listed = (await alice.request("GET", "/v1/passkeys")).json()["passkeys"]
            assert [row["credential"] for row in listed] == [body["credential"]]

            # at most passkeys_per_account (3 here); the same credential again replaces its wrap
            for _ in range(2):
                more_lookup, more = await wrap_for(backend, a_record.id, os.urandom(32), os.urandom(32))
                await alice.request("PUT", f"/v1/passkeys/{more_lookup}", json_body=more)
            over_lookup, over = await wrap_for(backend, a_record.id, os.urandom(32), os.urandom(32))
            assert await error_of(alice.request("PUT", f"/v1/passkeys/{over_lookup}", json_body=over)) \
                == "limit_exceeded"
            again_lookup, again = await wrap_for(backend, a_record.id, cred, os.urandom(32))
            await alice.request("PUT", f"/v1/passkeys/{again_lookup}", json_body=again)
            assert len((await alice.request("GET", "/v1/passkeys")).json()["passkeys"]) == 3

            # anyone fetches by lookup id, getting the wrap alone; rate-limited per address
            async with httpx.AsyncClient() as raw:
                assert (await raw.get(gateway + put)).status_code == 404  # replaced by the same credential's
                found = await raw.get(gateway + f"/v1/passkeys/{again_lookup}")
                assert found.status_code == 200 and found.json() == {"data": again["data"]}
                statuses = [(await raw.get(gateway + f"/v1/passkeys/{lookup_text(os.urandom(32))}")).status_code
                            for _ in range(LOOKUPS_PER_MINUTE)]
                assert statuses[-1] == 429 and set(statuses[:-1]) <= {404, 429}

            # a device of the account removes it
            assert (await alice.request("DELETE", "/v1/passkeys?credential=" + body["credential"])).json() == {
                "removed": body["credential"]}
            assert await error_of(alice.request("DELETE", "/v1/passkeys?credential=" + body["credential"])) \
                == "missing_metadata"
    run(go())


def test_a_removed_device_cannot_touch_the_accounts_passkeys(gateway, backend):
    async def go():
        from support.linking import link_device
        laptop, phone = [await create_identity(backend, n, NOW) for n in ("laptop", "phone")]
        async with GatewayClient(gateway, backend, laptop) as on_laptop, \
                GatewayClient(gateway, backend, phone) as on_phone:
            _, record = await create_account(on_laptop, "alice")
            _, linked = await link_device(on_laptop, record, on_phone)
            lookup, body = await wrap_for(backend, record.id, os.urandom(32), os.urandom(32))
            await on_phone.request("PUT", f"/v1/passkeys/{lookup}", json_body=body)
            await remove_devices(on_laptop, linked, [phone.id])
            assert await error_of(on_phone.request("GET", "/v1/passkeys")) == "unauthorized"
            assert await error_of(on_phone.request("DELETE", "/v1/passkeys?credential=" + body["credential"])) \
                == "unauthorized"
            assert len((await on_laptop.request("GET", "/v1/passkeys")).json()["passkeys"]) == 1
    run(go())
