"""The gateway: an allow-list of routes over a block provider and the metadata store.

Trust (../shared/DESIGN.md): the gateway returns bytes for CIDs and keeps metadata; it
is not trusted with plaintext and never sees any. It recomputes the CID of every block
put through it, releases capsules only when not revoked, not expired and allowed by the
policy provider, and refuses everything else (in particular raw Kubo RPC).

``create_app`` only assembles: shared state (context.Gateway), middleware, error
handling (http.py) and one router per route family (routes/).
"""

import asyncio
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__
from ..providers.base import BlockProvider
from ..stores.metadata import MetadataStore
from .config import GatewayConfig
from .context import Gateway
from .check import check_store
from .gc import collect_garbage
from .headers import SecurityHeaders
from .http import BodyLimit, InternalErrors, install_error_handlers
from .policy import PolicyClient
from .routes import (accounts, audit, auth, blocks, capsules, directory, link_codes, mailbox, passkeys, pins, proofs,
                     reads, service, sync)
from .site import mount_site

log = logging.getLogger("meshkit.gateway")
ROUTE_FAMILIES = (service, auth, directory, accounts, passkeys, link_codes, blocks, reads, pins, capsules, proofs,
                  mailbox, sync, audit)


def create_app(config: GatewayConfig, provider: BlockProvider, metadata: MetadataStore | None = None) -> FastAPI:
    """The ASGI app. ``metadata`` defaults to the store named by the config."""
    if not config.token_key:
        config.load_secrets()
    gw = Gateway(config, provider, metadata or MetadataStore(config.metadata))

    @asynccontextmanager
    async def lifespan(app):
        await gw.store.start()
        await provider.start()
        gw.policy = PolicyClient(config.policy_url, config.policy_timeout)
        collector = asyncio.create_task(_collect_periodically(gw)) if config.gc_interval > 0 else None
        log.info("gateway ready: provider=%s metadata=%s shared state=%s", provider.name, gw.store.dialect,
                 "redis" if config.redis_url else "this process")
        try:
            yield
        finally:
            if collector is not None:
                collector.cancel()
                with suppress(asyncio.CancelledError):
                    await collector
            await gw.policy.close()
            await provider.close()
            await gw.store.close()

    app = FastAPI(title="MeshKit gateway", version=__version__, lifespan=lifespan,
                  # no /docs or /redoc here: FastAPI's pages load scripts from a third-party
                  # CDN, and nothing on the app's origin may run third-party code
                  docs_url=None, redoc_url=None,
                  description="Restricted gateway: block puts, trustless reads, pins, metadata. "
                              "Nothing else; raw provider RPC is refused.")
    app.add_middleware(InternalErrors)  # innermost: nothing escapes as a traceback
    # the largest legitimate body is one block (a batch of blocks on POST /v1/blocks); JSON bodies are far smaller
    app.add_middleware(BodyLimit, limit=config.max_block_size + 4096, larger={"/v1/blocks": config.max_batch_size})
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "HEAD", "PUT", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Accept"],
                           # Date: a page on another origin learns the gateway's clock from it (core.clock)
                           expose_headers=["ETag", "X-Ipfs-Roots", "Retry-After", "Date"], max_age=600)
    app.add_middleware(SecurityHeaders, site_dir=config.site_dir)  # outermost: CORS preflights get them too
    install_error_handlers(app)
    for family in ROUTE_FAMILIES:
        app.include_router(family.router(gw))
    if config.site_dir:
        mount_site(app, config.site_dir)

    app.state.gateway = gw
    app.state.config = config
    app.state.store = gw.store
    app.state.provider = provider
    return app


async def _collect_periodically(gw: Gateway) -> None:
    while True:
        await asyncio.sleep(gw.config.gc_interval)
        try:
            await collect_garbage(gw)
            # bytes nobody pays for (a put that lost a quota race at another replica, or cut
            # short) are found by the crash check, which also moves the checkpoint on
            for line in (await check_store(gw)).lines()[1:]:
                log.info("check: %s", line)
        except Exception as exc:  # noqa: BLE001 - a failed round is retried next interval
            log.warning("garbage collection failed (%s)", type(exc).__name__)

