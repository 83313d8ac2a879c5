"""`meshkit send-link` and `meshkit receive`: send links (FORMAT.md 5.4) from the CLI, the
same protocol as the app's (clients/send_links.py). The link holds its secret in the URL
fragment: it is printed once, to standard output, and never written anywhere else."""

import argparse
from urllib.parse import urlsplit

from .cli_output import hand_over, say
from .core.cid import cid_str, parse_cid
from .core.errors import InvalidArgumentError


async def cmd_send_link(args, store) -> None:
    from .cli import _expiry, _gateway_client
    from .clients.send_links import create_send_link
    root = parse_cid(args.root)
    async with await _gateway_client(args, store, args.sender) as client:
        fragment, capsule = await create_send_link(client, root, expires=_expiry(args.expires), opens=args.opens)
    origin = args.gateway.rstrip("/")
    times = "any number of times" if args.opens is None else "once" if args.opens == 1 else f"{args.opens} times"
    say(f"send link for {cid_str(root)} (opens {times}; stop it with: meshkit revoke-link {capsule} "
        f"--from {args.sender}). Whoever has the link can open the file: send it only to them.", err=True)
    hand_over(f"{origin}/#{fragment}")


async def cmd_revoke_link(args, store) -> None:
    from .cli import _gateway_client
    capsule = cid_str(parse_cid(args.capsule))
    async with await _gateway_client(args, store, args.sender) as client:
        await client.request("DELETE", f"/v1/capsules/{capsule}", ok=(204,))
    say(f"send link {capsule} stopped: it opens no more", err=True)


async def cmd_receive(args, store) -> None:
    """Open a send link (no identity needed): through --gateway, else the link's origin."""
    from .cli import _out_path, _write_plaintext
    from .clients.gateway import GatewayClient
    from .clients.send_links import open_send_link
    gateway = args.gateway or _origin(args.link)
    opened, client = await open_send_link(GatewayClient, gateway, store.backend, args.link)
    try:
        out = _out_path(opened, args.out)
        await _write_plaintext(opened, out, store)
    finally:
        await client.close()
    say(f"received {opened.header.size} bytes -> {'standard output' if out == '-' else out}", err=out == "-")


def _origin(link: str) -> str:
    parts = urlsplit(str(link).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise InvalidArgumentError("that send link has no http(s) address to open it from: pass --gateway")
    return f"{parts.scheme}://{parts.netloc}"


def _opens(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError("--opens is a whole number from 1 to 1000")
    return int(text)


def add_parsers(sub, add_gateway, gateway_url) -> None:
    p = sub.add_parser("send-link", help="a link that opens an envelope for someone without an account "
                                         "(the secret is in the link's #fragment)")
    p.add_argument("root", help="the envelope's root CID")
    p.add_argument("--from", dest="sender", required=True, help="your identity name (must be able to open it)")
    p.add_argument("--expires", help="as for share: 90s, 30m, 12h, 7d, 2w, or an absolute time")
    p.add_argument("--opens", type=_opens, metavar="N",
                   help="the gateway releases it at most N times (1..1000; default: no limit)")
    add_gateway(p)
    p.set_defaults(func=cmd_send_link)

    p = sub.add_parser("revoke-link", help="stop a send link (its share is revoked)")
    p.add_argument("capsule", help="the capsule CID that send-link printed")
    p.add_argument("--from", dest="sender", required=True)
    add_gateway(p)
    p.set_defaults(func=cmd_revoke_link)

    p = sub.add_parser("receive", help="download what a send link points at (no identity needed)")
    p.add_argument("link", help="the send link (…/#send=…); quote it in the shell")
    p.add_argument("--out", help="where to write it, '-' for standard output (default: the sender's file "
                                 "name, made safe, in this folder; an existing file is never overwritten)")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="open through this gateway "
                   "(default: the link's own address)")
    p.set_defaults(func=cmd_receive)
