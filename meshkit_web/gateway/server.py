"""``meshkit serve``: the gateway under uvicorn, with the configured provider."""

import logging

import uvicorn

from .app import create_app
from .config import GatewayConfig


def make_provider(config: GatewayConfig):
    if config.provider == "kubo":
        from ..providers.kubo import KuboProvider
        return KuboProvider(config.kubo_api, auth=config.kubo_auth, timeout=config.provider_timeout)
    import os
    from ..providers.embedded import EmbeddedProvider
    return EmbeddedProvider(os.path.join(config.data_dir, "blockstore"))


def build(**options):
    config = GatewayConfig(**{k: v for k, v in options.items() if v is not None})
    config.load_secrets()
    return create_app(config, make_provider(config))


def run(*, host: str, port: int, **options) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = build(**options)
    # uvicorn's access log shows method, path and status: tokens only travel in headers,
    # never in URLs, so nothing secret reaches it.
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
