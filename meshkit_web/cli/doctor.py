"""`meshkit doctor`: check this machine's setup and its gateway, and write a support bundle
that can be sent to someone helping: versions, the checks and their outcomes, public ids,
configuration. REDACTED by construction and checked again: no private key, token, phrase,
content key or URL credential is ever put in, and every string is passed through
core.diagnostics' redaction (the same as the app's "Copy diagnostics") before it is written."""

import json
import os
import platform
import stat
import sys
import time

from .. import __version__
from .output import say
from ..core.errors import MeshKitError, UnknownIdentityError
from ..core.diagnostics import RecentLog, redacted
from ..core.urls import redact_url


def _check(checks: list, name: str, ok: bool, detail: str, warn: bool = False) -> None:
    """One check's line; ``warn``: passed, but worth the user's attention."""
    checks.append({"check": name, "ok": bool(ok), "detail": detail, **({"warn": True} if ok and warn else {})})
    say("FAIL" if not ok else "warn" if warn else "ok  ", name, detail, sep="\t")


def _clock_check(clock, checks: list) -> dict:
    """The gateway's clock against this machine's: a skew past the tolerance is named (times
    are taken from the gateway, so it does no harm up to core.clock.MAX_OFFSET; past that, it fails)."""
    report = clock.report()
    _check(checks, "clock", not report["clamped"], report["summary"], warn=report["beyond_tolerance"])
    return report


def _home_checks(store, checks: list) -> dict:
    home = store.home
    if not os.path.isdir(home):
        _check(checks, "home", True, "no home yet (it is made on the first identity)")
        return {"exists": False}
    loose = []
    for folder, _, files in os.walk(home):
        for name in files + [""]:
            path = os.path.join(folder, name) if name else folder
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:
                loose.append(os.path.relpath(path, home))
    _check(checks, "home permissions", not loose,
           "only you can read the home" if not loose else f"{len(loose)} file(s) readable by others: chmod go-rwx")
    return {"exists": True, "loose_files": sorted(loose)[:20]}


async def _identities(store) -> list:
    rows = []
    for public in await store.identities():
        account = store.load_account(public.name)
        rows.append({"name": public.name, "id": public.id, "fingerprint": public.fingerprint,
                     "account": account.id if account else None, "account_version": account.version if account else None,
                     "devices": len(account.devices) if account else None})
    return rows


async def _gateway_checks(args, store, checks: list) -> dict:
    from ..clients.gateway import GatewayClient
    report = {"url": redact_url(args.gateway)}
    async with GatewayClient(args.gateway, store.backend) as anonymous:
        try:
            started = time.monotonic()
            health = (await anonymous.request("GET", "/healthz", auth=False)).json()
            info = (await anonymous.request("GET", "/v1/info", auth=False)).json()
            report.update(health=health, info=info, latency_ms=round((time.monotonic() - started) * 1000, 1))
            _check(checks, "gateway", True, f"reachable, version {info.get('version')}, provider "
                                            f"{health.get('provider')}, {report['latency_ms']} ms")
            report["clock"] = _clock_check(anonymous.clock, checks)
        except MeshKitError as exc:
            report["error"] = exc.code
            _check(checks, "gateway", False, f"{exc.code}: {exc.message}")
            return report
    report["identities"] = {}
    for public in await store.identities():
        identity = await store.load(public.name)
        async with GatewayClient(args.gateway, store.backend, identity) as client:
            try:
                await client.token()  # the token itself is never kept, printed or written
                outcome = "ok"
            except MeshKitError as exc:
                outcome = exc.code
        report["identities"][public.id] = outcome
        if outcome == UnknownIdentityError.code:  # made offline: the first command through the gateway publishes it
            _check(checks, f"sign-in as {public.name}", True, "not published at this gateway yet: the first "
                   f"command through it does that (or: meshkit identity publish {public.name})", warn=True)
            continue
        _check(checks, f"sign-in as {public.name}", outcome == "ok",
               "the gateway accepts this device" if outcome == "ok" else outcome)
    return report


async def cmd_doctor(args, store) -> None:
    recent = RecentLog.install()
    checks: list = []
    _check(checks, "python", sys.version_info >= (3, 11), platform.python_version())
    bundle = {
        "meshkit": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "crypto_backend": store.backend.name, "made": int(time.time()),
        "config": {"home": store.home, "MESHKIT_GATEWAY": redact_url(os.environ["MESHKIT_GATEWAY"])
                   if os.environ.get("MESHKIT_GATEWAY") else None},
        "home": _home_checks(store, checks),
        "identities": await _identities(store),
    }
    if args.gateway:
        bundle["gateway"] = await _gateway_checks(args, store, checks)
    bundle["checks"] = checks
    bundle["log"] = list(recent.lines)
    if args.bundle:
        fd = os.open(args.bundle, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(redacted(bundle), out, indent=1, sort_keys=True)
        say(f"support bundle written to {args.bundle} (no keys, tokens, phrases or URL credentials)", err=True)
    failed = [c for c in checks if not c["ok"]]
    if failed:
        raise MeshKitError(f"{len(failed)} check(s) failed: {', '.join(c['check'] for c in failed)}")


def add_parsers(sub) -> None:
    from .common import gateway_url
    p = sub.add_parser("doctor", help="check this setup and the gateway; --bundle writes a redacted support bundle")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, default=os.environ.get("MESHKIT_GATEWAY") or None,
                   help="also check this gateway (default: $MESHKIT_GATEWAY)")
    p.add_argument("--bundle", metavar="FILE", help="write the support bundle here (a new file, mode 0600)")
    p.set_defaults(func=cmd_doctor)
