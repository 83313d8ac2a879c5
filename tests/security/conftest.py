"""Fixtures only the security tests use."""

import pytest


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """The gateway app (embedded provider, SQLite) under uvicorn on 127.0.0.1 (the CLI/runtime
    tests'; test_sec_gateway.py has a gateway of its own)."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    data = tmp_path_factory.mktemp("sec-gateway")
    server = ServerThread(create_app(GatewayConfig(data_dir=str(data)), EmbeddedProvider(str(data / "blockstore"))))
    with server:
        yield server


@pytest.fixture
def db_url(request, metadata_url, tmp_path):
    """A database of its own for one test, of the dialect under test: collections and
    counts see this test's rows only."""
    if metadata_url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path / "metadata.db")
    return request.getfixturevalue("postgres").create_database()
