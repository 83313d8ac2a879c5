"""`meshkit send-link` and `meshkit receive`: send links (FORMAT.md 5.4) from the CLI, the
same protocol as the app's (clients/send_links.py). The link holds its secret in the URL
fragment: it is printed once, to standard output, and never written anywhere else.
`receive` reads it from the terminal (no echo), standard input or a file, never from the
command line, which other users of the machine (and the shell's history) can read."""

import argparse
import getpass
import sys
from urllib.parse import urlsplit

from ..core.errors import InvalidArgumentError
from ..core.send_link import MAX_LINK, MAX_OPENS
from .common import add_gateway, gateway_url, kit_for
from .output import hand_over, say


async def cmd_send_link(args, kit) -> None:
    made = await kit.send_links.create(args.root, from_=args.sender, expires=args.expires, opens=args.opens)
    times = "any number of times" if args.opens is None else "once" if args.opens == 1 else f"{args.opens} times"
    say(f"send link for {made.root} (opens {times}; stop it with: meshkit revoke-link {made.capsule} "
        f"--from {args.sender}). Whoever has the link can open the file: send it only to them.", err=True)
    hand_over(made.link)


async def cmd_revoke_link(args, kit) -> None:
    capsule = await kit.send_links.revoke(args.capsule, from_=args.sender)
    say(f"send link {capsule} stopped: it opens no more", err=True)


async def cmd_links(args, kit) -> None:
    """One send link a line: capsule, state, opens used/allowed, expiry (Unix seconds or -)."""
    for link in await kit.send_links.list(args.root, as_=args.identity):
        opens = f"{link.opens_used}/{link.opens}" if link.opens is not None else "unlimited"
        say(link.capsule, link.state, opens, link.expires if link.expires is not None else "-", sep="\t")


LINK_INPUT_MAX = MAX_LINK + 2  # one link and its line end: nothing longer is read


def read_link(source: str | None, link_file: str | None) -> str:
    """The send link: from ``--link-file``, standard input ('-'), or typed at the terminal
    without echo. Never echoed back, whatever went wrong."""
    if link_file:
        with open(link_file, encoding="utf-8", errors="replace") as handle:
            text = handle.read(LINK_INPUT_MAX + 1)
    elif source == "-" or not sys.stdin.isatty():
        text = sys.stdin.read(LINK_INPUT_MAX + 1)
    else:
        text = getpass.getpass("send link (not shown): ")
    text = text.strip()
    if not text or len(text) > MAX_LINK:
        raise InvalidArgumentError("no send link was given" if not text else "that is not a send link")
    return text


async def cmd_receive(args, _kit) -> None:
    """Open a send link (no identity needed): through --gateway, else the link's origin."""
    from .envelopes import out_path, write_plaintext
    link = read_link(args.source, args.link_file)
    async with kit_for(args, args.gateway or _origin(link)) as kit:
        if args.describe:
            return _describe(await kit.send_links.describe(link))
        opened = await kit.send_links.open(link)
        out = out_path(opened, args.out)
        await write_plaintext(opened, out, replace=args.out is not None)
    say(f"received {opened.size} bytes -> {'standard output' if out == '-' else out}", err=out == "-")


def _describe(found) -> None:
    """What a link points at, one field a line (the name escaped as everything printed)."""
    say("name", found.name or "(not given)", sep="\t")
    say("type", found.type, sep="\t")
    say("size", found.size, sep="\t")
    say("from", found.sender, sep="\t")
    say("opens left", "no limit" if found.opens_left is None else found.opens_left, sep="\t")


def _origin(link: str) -> str:
    parts = urlsplit(str(link).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise InvalidArgumentError("that send link has no http(s) address to open it from: pass --gateway")
    return f"{parts.scheme}://{parts.netloc}"


def _link_source(text: str) -> str:
    """The only argument ``receive`` takes: '-' (the link on standard input). A link given
    here is refused (a usage error that never repeats it): its secret would be readable by
    every user of the machine and kept in the shell's history."""
    if text != "-":
        raise argparse.ArgumentTypeError(
            "a send link holds a secret: do not put it on the command line. Run 'meshkit receive' and paste "
            "it at the prompt, or give it on standard input ('meshkit receive - < link.txt') or with "
            "--link-file FILE")
    return text


def _opens(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_OPENS:
        raise argparse.ArgumentTypeError(f"--opens is a whole number from 1 to {MAX_OPENS}")
    return int(text)


def add_parsers(sub) -> None:
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

    p = sub.add_parser("links", help="the send links of an envelope your account made (on any device): "
                                     "capsule, state, opens used/allowed, expiry")
    p.add_argument("root", help="the envelope's root CID")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    add_gateway(p)
    p.set_defaults(func=cmd_links)

    p = sub.add_parser("receive", help="download what a send link points at (no identity needed); the link "
                                       "is read at the prompt (not shown), from standard input or --link-file")
    p.add_argument("source", nargs="?", type=_link_source, metavar="-",
                   help="'-': read the link from standard input (it is never taken from the command line)")
    p.add_argument("--link-file", metavar="FILE", help="read the link from this file")
    p.add_argument("--describe", action="store_true", help="only say what it is (name, type, size, sender, "
                                                           "opens left): downloads nothing, spends no open")
    p.add_argument("--out", help="where to write it, '-' for standard output (default: the sender's file "
                                 "name, made safe, in this folder; an existing file is never overwritten)")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="open through this gateway "
                   "(default: the link's own address)")
    p.set_defaults(func=cmd_receive)
