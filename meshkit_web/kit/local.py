"""``MeshKit.local(path)``: the gateway app itself, in this process, over SQLite and the
embedded block store under ``path``. No server, no socket, no network: requests go to the
ASGI app through httpx's ASGI transport. Everything a real gateway does (tokens, quotas,
shares, mailboxes, accounts) is done by the same code, so a program moves to
``MeshKit.connect(url)`` without changing a call."""

import os
from contextlib import AsyncExitStack

from ..core.errors import InUseError

LOCAL_URL = "http://meshkit.local"  # the local gateway's name for logins (never resolved)
DATA = "gateway"   # under path: the local gateway's data (blocks, metadata.db, token key)
HOME = "home"      # under path: identities and contacts, laid out as the CLI's home


class LocalGateway:
    """The in-process gateway's life: ``start()`` (the data directory locked for this
    process, the crash check, the app's lifespan), ``transport``, ``close()``."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.data_dir = os.path.join(self.path, DATA)
        self.transport = None
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        self._stack = AsyncExitStack()  # a kit closed and opened again starts afresh
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)  # makedirs gives the mode to a new leaf only, and umask applies
        import httpx
        from ..gateway.app import create_app
        from ..gateway.check import check_store
        from ..gateway.config import GatewayConfig
        from ..gateway.server import hold_data_dir, make_provider
        lock = hold_data_dir(self.data_dir, exclusive=True)
        if lock is None:  # another MeshKit.local or `meshkit serve` has it: two writers would race
            raise InUseError(f"{self.path} is in use by another MeshKit (MeshKit.local or meshkit serve)")
        self._stack.callback(lock.close)
        config = GatewayConfig(data_dir=self.data_dir, public_urls=[LOCAL_URL], gc_interval=0,
                               # one program is the only user: its pace is its own
                               rate_limit="1000000/minute", login_limit="100000/minute",
                               account_limit="100000/minute",
                               anonymous_limits={"directory": "100000/minute", "challenge": "100000/minute",
                                                 "accounts": "100000/minute"},
                               pin_quota=1 << 50, storage_quota=1 << 50)
        app = create_app(config, make_provider(config))
        try:
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            await check_store(app.state.gateway, full=False, settled=True)  # after a crash: what `serve` does
        except BaseException:
            await self._stack.aclose()
            raise
        self.transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))

    async def close(self) -> None:
        self.transport = None
        await self._stack.aclose()
