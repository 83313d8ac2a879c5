"""``meshkit serve``: the gateway (gateway/server.py), with the PWA when one is built."""

import argparse
import os

from ..core.errors import InvalidArgumentError
from .output import say

MIN_GC_GRACE = 60  # seconds: a grace shorter than an upload would collect its blocks before its pin


def size(text: str) -> int:
    """A --storage-quota / --pin-quota value: 5GiB, 500MB, a number of bytes."""
    from ..core.units import parse_size
    try:
        return parse_size(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def grace(text: str) -> int:
    """A --gc-grace value: a duration with its unit (30m, 24h, 7d)."""
    from ..core.expiry import parse_duration
    try:
        seconds = parse_duration(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if seconds < MIN_GC_GRACE:
        raise argparse.ArgumentTypeError(f"a grace under {MIN_GC_GRACE}s would collect uploads before they are pinned")
    return seconds


def cmd_serve(args) -> None:
    from ..gateway.server import check_alone, run
    if args.check:
        report = check_alone(data_dir=args.data, provider=args.provider, kubo_api=args.kubo_api,
                             metadata_url=args.metadata)
        for line in report.lines():
            say(line)
        return
    site = args.site or ("./site" if os.path.isfile("./site/build.json") else None)
    if site is None:
        say("meshkit: no site built (python build.py): serving the gateway API only", err=True)
    run(site_dir=site, data_dir=args.data, host=args.host, port=args.port, provider=args.provider, kubo_api=args.kubo_api,
        metadata_url=args.metadata, policy_url=args.policy_url, cors_origins=args.cors_origin,
        public_urls=args.public_url, min_free=max(0, args.min_free_mib) << 20,
        audience=args.audience, workers=args.workers, trusted_proxies=args.trusted_proxy,
        storage_quota=args.storage_quota, pin_quota=args.pin_quota, gc_grace=args.gc_grace)


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="run the gateway (embedded blockstore + SQLite by default)")
    p.add_argument("--data", default=os.environ.get("MESHKIT_DATA", "./meshkit-data"),
                   help="data directory (default ./meshkit-data)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--provider", choices=["embedded", "kubo"], default="embedded")
    p.add_argument("--kubo-api", default="http://127.0.0.1:5001",
                   help="Kubo RPC URL; credentials only via $MESHKIT_KUBO_AUTH")
    p.add_argument("--metadata", help="sqlite:///PATH (default DATA/metadata.db) or postgresql://...")
    p.add_argument("--policy-url", help="policy provider base URL (policy-gated shares fail closed without it)")
    p.add_argument("--cors-origin", action="append", default=[], help="allowed browser origin (repeatable)")
    p.add_argument("--audience", default="meshkit-gateway", help="token audience (the same for every replica)")
    p.add_argument("--public-url", action="append", default=[], metavar="URL",
                   help="a URL clients reach this gateway at (repeatable; needed behind a proxy or TLS "
                        "terminator: logins are signed for the URL the client uses)")
    p.add_argument("--site", default=os.environ.get("MESHKIT_SITE"),
                   help="the PWA built by build.py, served on the same origin (default ./site when built)")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="N",
                   help="gateway processes sharing the port (default 1); rate limits are counted per process "
                        "unless $MESHKIT_REDIS_URL names a Redis they share")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="IP",
                   help="a load balancer's address whose X-Forwarded-For is believed (repeatable; default none)")
    p.add_argument("--min-free-mib", type=int, default=64, metavar="MIB",
                   help="refuse new blocks (storage_full) before the disk's free space falls under this "
                        "(default 64): logins and reads keep working on a full disk")
    p.add_argument("--storage-quota", type=size, metavar="SIZE",
                   help="what each identity may store: blocks it put or pins, messages, records (e.g. 5GiB, "
                        "500MB; default 2GiB)")
    p.add_argument("--pin-quota", type=size, metavar="SIZE",
                   help="the envelopes each identity may keep pinned (default 1GiB)")
    p.add_argument("--gc-grace", type=grace, metavar="DURATION",
                   help="how long an unpinned block still counts and is kept before it is collected, unless "
                        "its owner releases it (e.g. 30m, 24h, 7d; default 24h); longer than your longest upload")
    p.add_argument("--check", action="store_true",
                   help="check and repair the store after a crash (every block hashed, temp files, charges, "
                        "pins), print what was found, and exit; run it while no gateway serves --data")
    p.set_defaults(func=None, sync_func=cmd_serve)
