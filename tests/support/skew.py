"""A client whose clock is off, against a real gateway whose clock is not: only the clients'
seam (core.clock.local_now) is moved, never the gateway's time."""

import concurrent.futures
import io
import logging
import sys
import time

from meshkit_web.core import clock

AHEAD, BEHIND = -600, 600  # gateway minus device, seconds: the trial's ten minutes either way


def skew_client_clock(monkeypatch, offset: float) -> None:
    """Make the device's clock ``offset`` seconds behind the gateway's (negative: ahead)."""
    monkeypatch.setattr(clock, "local_now", lambda: time.time() - offset)


def gateway(tmp_path, **config):
    """A gateway of its own (embedded provider, SQLite) with ``config`` overrides: a
    ServerThread to run ``with`` it."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    data = tmp_path / "skew-gateway"
    return ServerThread(create_app(GatewayConfig(data_dir=str(data), **config),
                                   EmbeddedProvider(str(data / "blockstore"))))


def meshkit_in_process(monkeypatch, *argv) -> tuple[int, str, str]:
    """The real CLI entry point in this process (so the moved clock applies): (exit code,
    stdout, stderr)."""
    from meshkit_web.cli import main
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    root, meshkit_log = logging.getLogger(), logging.getLogger("meshkit")
    handlers, kept = list(root.handlers), (meshkit_log.level, list(meshkit_log.handlers))
    levels = {handler: handler.level for handler in handlers}
    try:
        # on a thread of its own: once a browser test has run, Playwright keeps an event loop
        # running on this one, where the CLI's asyncio.run would refuse to start
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            code = pool.submit(main, [str(a) for a in argv]).result()
    finally:
        # what main() set up for its process is undone: this one goes on (other tests' logs)
        for handler in root.handlers[:]:  # main's basicConfig handler writes to this call's stderr
            if handler not in handlers:
                root.removeHandler(handler)
        for handler, level in levels.items():
            handler.setLevel(level)
        meshkit_log.setLevel(kept[0])
        meshkit_log.handlers[:] = kept[1]
    return code, out.getvalue(), err.getvalue()
