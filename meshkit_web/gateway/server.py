"""``meshkit serve``: the gateway under uvicorn, with the configured provider, and an HTTP
protocol that does not hold a connection for a client that stops sending."""

import asyncio
import fcntl
import json
import logging
import os

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.errors import UnavailableError
from ..stores.metadata import MetadataStore
from .app import create_app
from .check import CheckReport, check_store
from .config import GatewayConfig
from .context import Gateway

HEADER_TIMEOUT = 10.0   # seconds from a connection (or a request's first byte) to its last header
BODY_TIMEOUT = 120.0    # seconds from the headers to the end of the body (a block is at most 2 MiB)
IDLE_TIMEOUT = 5        # seconds a kept-alive connection may sit idle between requests
WRITE_TIMEOUT = 30.0    # seconds a reply may sit unread in a full send buffer (a client that stopped reading)
MAX_CONNECTIONS = 1000  # open connections and tasks at once; beyond, uvicorn answers 503


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines it lacks: a connection that sends
    nothing, or half a request, or stops reading its reply, is closed instead of held
    forever (slowloris, slow read). Idle keep-alive connections are closed by uvicorn's own
    ``timeout_keep_alive``."""

    _deadline = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _abort(self) -> None:
        self._stalled = None
        self.transport.abort()  # close() would wait to flush a buffer nobody reads

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(HEADER_TIMEOUT)

    def connection_lost(self, exc) -> None:
        self._disarm()
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(HEADER_TIMEOUT)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(BODY_TIMEOUT)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    # A client that stops reading fills the send buffer and the transport pauses us; if it
    # stays full, the connection (and the reply it holds) is dropped.
    _stalled = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stalled is None:
            self._stalled = self.loop.call_later(WRITE_TIMEOUT, self._abort)

    def resume_writing(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        super().resume_writing()


def uvicorn_options(trusted_proxies: list[str] | tuple = ()) -> dict:
    """What every MeshKit server runs with (the CLI's and the tests' servers alike).
    X-Forwarded-For is believed only from ``trusted_proxies`` (the load balancer's
    addresses): uvicorn's default trusts 127.0.0.1, which would let any local client claim
    another address and dodge the per-address limits."""
    # date_header: every reply (errors and uvicorn's own refusals too) says the gateway's time,
    # which clients resolve expiries against (core.clock)
    return {"http": GuardedHttpProtocol, "timeout_keep_alive": IDLE_TIMEOUT, "server_header": False,
            "date_header": True,
            "h11_max_incomplete_event_size": 16 << 10, "limit_concurrency": MAX_CONNECTIONS,
            "proxy_headers": bool(trusted_proxies), "forwarded_allow_ips": ",".join(trusted_proxies) or "",
            }


def make_provider(config: GatewayConfig):
    if config.provider == "kubo":
        from ..providers.kubo import KuboProvider
        return KuboProvider(config.kubo_api, auth=config.kubo_auth, timeout=config.provider_timeout)
    from ..providers.embedded import EmbeddedProvider
    return EmbeddedProvider(os.path.join(config.data_dir, "blockstore"), min_free=config.min_free)


def build(**options):
    config = GatewayConfig(**{k: v for k, v in options.items() if v is not None})
    config.load_secrets()
    return create_app(config, make_provider(config))


def default_public_urls(host: str, port: int) -> list[str]:
    """Without --public-url: the address served, and on 127.0.0.1 also localhost (what a
    person types). Logins are signed for the URL the client uses (core.auth)."""
    literal = f"[{host}]" if ":" in host else host
    urls = [f"http://{literal}:{port}"]
    if host == "127.0.0.1":
        urls.append(f"http://localhost:{port}")
    return urls


log = logging.getLogger("meshkit.gateway")
WORKER_OPTIONS_ENV = "MESHKIT_SERVE_OPTIONS"  # how `--workers N` hands the options to each process


def worker_app():
    """The app of one of several worker processes (uvicorn's factory): the options the
    parent checked, from the environment (no secrets in them: those come from the
    environment or the data directory, as for one process)."""
    return build(**json.loads(os.environ[WORKER_OPTIONS_ENV]))


SERVING_LOCK = ".serving"  # in the data directory: every serving process holds it shared
_held = []  # the lock's open file, for the life of this process (its workers inherit it)


def hold_data_dir(data_dir: str, *, exclusive: bool):
    """flock the data directory: shared by every `meshkit serve` using it, exclusive for a
    check that may touch what is in flight. The open file, or None if another holds it."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    lock = open(os.path.join(data_dir, SERVING_LOCK), "a")
    try:
        fcntl.flock(lock, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def check_alone(**options) -> CheckReport:
    """``meshkit serve --check``: the whole store, with no gateway serving it (refused otherwise)."""
    lock = hold_data_dir(options.get("data_dir") or GatewayConfig.data_dir, exclusive=True)
    if lock is None:
        raise UnavailableError("a gateway is serving this data directory: stop it first (each start "
                               "checks what changed since its last checkpoint by itself)")
    try:
        return check(full=True, settled=True, **options)
    finally:
        lock.close()


def check(*, full: bool, settled: bool, **options) -> CheckReport:
    """The crash check (gateway/check.py) over the store the options name, in its own event loop."""
    config = GatewayConfig(**{k: v for k, v in options.items() if v is not None})
    config.load_secrets()
    gw = Gateway(config, make_provider(config), MetadataStore(config.metadata))

    async def checked():
        await gw.store.start()
        await gw.provider.start()
        try:
            return await check_store(gw, full=full, settled=settled)
        finally:
            await gw.provider.close()
            await gw.store.close()
    return asyncio.run(checked())


def run(*, host: str, port: int, workers: int = 1, trusted_proxies: list[str] = (), **options) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not options.get("public_urls") and host not in ("0.0.0.0", "::"):
        options["public_urls"] = default_public_urls(host, port)
    # built here in any case: bad options fail now, and the token key file is created once,
    # before several processes would race to create it
    app = build(**options)
    # after a crash or a power cut the store may hold torn blocks and stray charges: repair
    # what changed since the last checkpoint before serving anything (once, before workers);
    # alone on the data directory, nothing can be in flight: the check may touch it all
    data_dir = options.get("data_dir") or GatewayConfig.data_dir
    lock = hold_data_dir(data_dir, exclusive=True)
    alone = lock is not None
    lock = lock or hold_data_dir(data_dir, exclusive=False)
    if lock is None:
        raise UnavailableError("`meshkit serve --check` is running on this data directory: start when it is done")
    for line in check(full=False, settled=alone, **options).lines():
        log.info("start-up check: %s", line)
    fcntl.flock(lock, fcntl.LOCK_SH)  # serving: other gateways may share the directory, a check may not
    _held.append(lock)
    # uvicorn's access log shows method, path and status: tokens only travel in headers,
    # never in URLs, so nothing secret reaches it.
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(trusted_proxies))
        return
    os.environ[WORKER_OPTIONS_ENV] = json.dumps(options)
    uvicorn.run("meshkit_web.gateway.server:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="info", **uvicorn_options(trusted_proxies))
