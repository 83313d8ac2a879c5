"""Shared fixtures: a real PyNaCl backend, identities, CLI runner, PostgreSQL, the site, gateways,
the browser. Helpers and constants are in tests/support (the package `support`)."""

import os
import subprocess
import sys

import pytest

from meshkit_web.core.identity import create_identity
from meshkit_web.crypto.nacl_backend import NaclBackend

from support.aio import run
from support.browser import ready
from support.constants import NOW, ROOT


@pytest.fixture(scope="session")
def backend():
    return NaclBackend()


@pytest.fixture(scope="session")
def people(backend):
    """alice (sender), bob and dave (recipients), carol (never a recipient)."""
    async def make():
        return {name: await create_identity(backend, name, NOW) for name in ("alice", "bob", "carol", "dave")}
    return run(make())


@pytest.fixture
def cli(tmp_path):
    """Run the real console entry point in a subprocess with its own home."""
    home = tmp_path / "home"

    def call(*args, check=True, home_dir=None):
        proc = subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home_dir or home), *map(str, args)],
                              capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"meshkit {args} failed: {proc.stderr}")
        return proc
    call.home = home
    return call


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the session (see tests/support/pgserver.py)."""
    from support.pgserver import PostgresServer
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def metadata_url(request, tmp_path_factory):
    """The metadata store under test: the same suite runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "metadata.db")
    return request.getfixturevalue("postgres").create_database()


# --- the browser: Playwright driving Debian's Chromium, truly offline --------------------

CHROMIUM = os.environ.get("MESHKIT_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's Chromium (Playwright may not download its own here). The host resolver maps
    every name but 127.0.0.1 and localhost (passkeys need a host name) to nothing, so no test can pass by reaching the network."""
    return {"executable_path": CHROMIUM, "headless": True, "args": [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]}


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site as build.py makes it from this checkout."""
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, os.path.join(ROOT, "build.py"), "--out", str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def app_server(site, tmp_path_factory):
    """`meshkit serve`'s app (embedded provider, SQLite) serving the PWA on one origin."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    data = tmp_path_factory.mktemp("gateway-data")
    config = GatewayConfig(data_dir=str(data), site_dir=str(site))
    server = ServerThread(create_app(config, EmbeddedProvider(str(data / "blockstore")))).start()
    server.data_dir = data
    yield server
    server.stop()


@pytest.fixture
def fresh_gateway(tmp_path):
    """A gateway of its own (embedded provider, SQLite) on 127.0.0.1: its URL."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    config = GatewayConfig(data_dir=str(tmp_path / "fresh-gateway"))
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "fresh-gateway" / "blockstore")))).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def base_url(app_server):
    return app_server.url


@pytest.fixture
def profiles(browser, base_url):
    """profiles(n): n pages in n browser contexts (n people or n devices, each with its own
    IndexedDB), booted, each collecting its console lines in ``page.console_lines``."""
    contexts = []

    def make(count: int) -> list:
        pages = []
        for _ in range(count):
            contexts.append(browser.new_context(base_url=base_url))
            page = contexts[-1].new_page()
            page.console_lines = []
            page.on("console", lambda message, page=page: page.console_lines.append(message.text))
            ready(page)
            pages.append(page)
        return pages
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def two_users(browser, base_url):
    """Two pages in two browser contexts: two people, each with their own IndexedDB."""
    contexts = [browser.new_context(base_url=base_url) for _ in range(2)]
    yield [context.new_page() for context in contexts]
    for context in contexts:
        context.close()


@pytest.fixture
def malicious_gateway(tmp_path):
    """The real gateway behind a proxy that rewrites the replies a test chooses
    (tests/support/malicious_gateway.py): the proxy, whose ``url`` clients use."""
    from support.malicious_gateway import start
    proxy, server, gateway = start(tmp_path)
    yield proxy
    server.stop()
    gateway.stop()
