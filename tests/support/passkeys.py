"""Passkeys in headless Chromium: the app on http://localhost:PORT (an IP address is no
relying-party id) and pages with CDP's virtual authenticator (WebAuthn PRF,
../shared/PLATFORM-NOTES.md). CDP cannot carry a credential's PRF secret to another
authenticator, so "a new browser" is the same page with every byte its origin stored cleared."""

import pytest

from meshkit_web.testing import free_port, wait_for_meshkit
from support.servers import ServerThread

AUTHENTICATOR = {"protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True, "hasPrf": True,
                 "automaticPresenceSimulation": True}
@pytest.fixture
def localhost_app(site, tmp_path):
    """The app and its gateway answering logins for http://localhost:PORT (the page's origin)."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    port = free_port()
    origin = f"http://localhost:{port}"
    config = GatewayConfig(data_dir=str(tmp_path / "data"), site_dir=str(site),
                           public_urls=[origin, f"http://127.0.0.1:{port}"])
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore"))), port).start()
    server.origin, server.db = origin, tmp_path / "data" / "metadata.db"
    yield server
    server.stop()


@pytest.fixture
def device(browser, localhost_app):
    """device(prf=True) -> a booted page in a fresh context (its own IndexedDB) with a virtual
    authenticator of its own."""
    contexts = []

    def make(prf: bool = True):
        contexts.append(browser.new_context())
        page = contexts[-1].new_page()
        page.console_lines = []
        page.on("console", lambda message: page.console_lines.append(message.text))
        cdp = contexts[-1].new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        page.authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {
            "options": {**AUTHENTICATOR, "hasPrf": prf}})["authenticatorId"]
        page.cdp = cdp
        page.goto(localhost_app.origin + "/")
        wait_for_meshkit(page)
        return page
    yield make
    for context in contexts:
        context.close()


def forget_everything(page, origin: str):
    """The page as a new browser would load it: the origin's storage cleared, the authenticator kept."""
    page.cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    page.goto(origin + "/")
    wait_for_meshkit(page)
    return page
