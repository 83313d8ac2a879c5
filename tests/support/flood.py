"""Shared by the "no user can exhaust another user" tests (test_sec_flood.py,
test_sec_charges.py): a real gateway on 127.0.0.1 over a database of its own (SQLite or
PostgreSQL; their `db_url` fixture is in tests/security/conftest.py), a collector run as another
replica would run it, raw logins, timing."""

import asyncio
import os
import time

import httpx

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.auth import challenge_message
from meshkit_web.core.signing import identity_id
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.servers import ServerThread


class Gateway:
    """A real gateway (uvicorn on 127.0.0.1, embedded blockstore) over ``metadata_url``."""

    def __init__(self, base, metadata_url, **overrides):
        base.mkdir(parents=True, exist_ok=True)
        self.blockstore = str(base / "data" / "blockstore")
        self.config = GatewayConfig(data_dir=str(base / "data"), metadata_url=metadata_url, **overrides)
        self.app = create_app(self.config, EmbeddedProvider(self.blockstore))
        self.server = ServerThread(self.app).start()
        self.url = self.server.url

    def client(self, backend, identity, **kw) -> GatewayClient:
        return GatewayClient(self.url, backend, identity, **kw)

    def stop(self):
        self.server.stop()


async def collect(g: Gateway, now: int) -> dict:
    """One garbage collection round at time ``now``, run as another replica runs it: its
    own connections to the same database and blockstore (the server's are on its loop)."""
    from meshkit_web.gateway.context import Gateway as Shared
    from meshkit_web.gateway.gc import collect_garbage
    from meshkit_web.stores.metadata import MetadataStore
    store, provider = MetadataStore(g.config.metadata), EmbeddedProvider(g.blockstore)
    await store.start()
    await provider.start()
    try:
        return await collect_garbage(Shared(g.config, provider, store), now)
    finally:
        await provider.close()
        await store.close()


async def usage(client: GatewayClient) -> dict:
    return (await client.request("GET", "/v1/usage")).json()


async def raw_login(http: httpx.AsyncClient, url: str, backend, identity, scopes=("mailbox",)) -> httpx.Response:
    """A challenge and its answer, without the client's pacing: the gateway's reply as it is."""
    challenge = await http.post(url + "/v1/auth/challenge", json={"id": identity.id})
    if challenge.status_code != 200:
        return challenge
    text = challenge.json()["challenge"]
    signature = await backend.ed25519_sign(identity.sig_private, challenge_message(url, text))
    return await http.post(url + "/v1/auth/token", json={"challenge": text, "signature": codec.b64e(signature),
                                                          "scopes": list(scopes)})


def made_up_ids(count: int) -> list[str]:
    """Well-formed identity ids nobody has the key of."""
    return sorted({identity_id(os.urandom(32)) for _ in range(count)})


async def timed(coro) -> float:
    started = time.monotonic()
    await coro
    return time.monotonic() - started


async def gather_bounded(jobs, concurrency: int = 16) -> list:
    """Run coroutine factories ``jobs`` at most ``concurrency`` at a time; their results
    (exceptions included)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(job):
        async with slots:
            return await job()
    return await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)
