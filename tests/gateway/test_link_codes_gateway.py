"""The gateway's link-code routes (FORMAT.md 11.5.1), on SQLite and PostgreSQL: a token is
needed both ways; a lookup id and a sealed link are bounded; a lookup another identity holds
is a conflict; at most link_codes_per_identity live at once; a code lives LINK_WAIT seconds by
the gateway's clock; lookups are rate-limited."""

import os
import time
import types

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.identity import create_identity
from meshkit_web.core.short_code import LINK_WAIT, MAX_SEALED
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.gateway.routes import link_codes
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import error_of, run
from support.constants import NOW
from support.servers import ServerThread


@pytest.fixture
def gateway(tmp_path, metadata_url):
    config = GatewayConfig(data_dir=str(tmp_path / "data"), metadata_url=metadata_url, link_codes_per_identity=2,
                           link_code_limit="5/minute")
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore")))).start()
    yield server.url
    server.stop()




def lookup() -> str:
    return codec.b64e(os.urandom(16))


def test_link_code_routes_are_authenticated_bounded_and_owned(gateway, backend, monkeypatch):
    async def go():
        a_id, b_id = [await create_identity(backend, n, NOW) for n in ("new-a", "new-b")]
        async with GatewayClient(gateway, backend, a_id) as a, GatewayClient(gateway, backend, b_id) as b:
            await a.publish()
            await b.publish()
            path, body = f"/v1/link-codes/{lookup()}", {"data": codec.b64e(os.urandom(120))}
            async with httpx.AsyncClient() as raw:  # no token: refused both ways
                assert (await raw.put(gateway + path, json=body)).status_code == 401
                assert (await raw.get(gateway + path)).status_code == 401
            assert await error_of(a.request("PUT", "/v1/link-codes/short", json_body=body)) == "malformed"
            too_big = {"data": codec.b64e(os.urandom(MAX_SEALED + 1))}
            assert await error_of(a.request("PUT", path, json_body=too_big)) == "malformed"
            assert await error_of(a.request("PUT", path, json_body={"data": "!!"})) in {"malformed",
                                                                                       "invalid_argument"}
            before = int(time.time())
            expires = (await a.request("PUT", path, json_body=body)).json()["expires"]
            assert before + LINK_WAIT <= expires <= int(time.time()) + LINK_WAIT
            assert (await a.request("PUT", path, json_body=body)).status == 200  # the same again: one row
            assert await error_of(b.request("PUT", path, json_body=body)) == "conflict"  # a's lookup
            assert (await b.request("GET", path)).json() == body  # any identity reads it
            assert (await a.request("PUT", f"/v1/link-codes/{lookup()}", json_body=body)).status == 200
            assert await error_of(a.request("PUT", f"/v1/link-codes/{lookup()}", json_body=body)) \
                == "limit_exceeded"  # two live at once
            assert await error_of(b.request("GET", f"/v1/link-codes/{lookup()}")) == "missing_metadata"
            # the gateway's clock past the wait: gone, and a's codes no longer count
            monkeypatch.setattr(link_codes, "time", types.SimpleNamespace(time=lambda: time.time() + LINK_WAIT))
            assert await error_of(b.request("GET", path)) == "missing_metadata"
            assert (await a.request("PUT", f"/v1/link-codes/{lookup()}", json_body=body)).status == 200
            # lookups are limited (5 a minute here; 3 were made above)
            assert [await error_of(b.request("GET", path)) for _ in range(3)] == ["missing_metadata"] * 2 + \
                ["rate_limited"]
    run(go())
