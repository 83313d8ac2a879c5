"""``meshkit device ...`` and ``meshkit library``: kit.devices and kit.library (FORMAT.md
section 11; the protocol is clients/accounts.py). A device link holds a secret: it is read
from the terminal or standard input, never from the command line."""

import argparse
import asyncio
import sys
import time

from ..clients.accounts import LINK_WAIT, MAX_LINK_TEXT
from ..core.errors import InvalidArgumentError
from ..core.units import human_bytes
from .common import add_gateway
from .envelopes import described
from .identities import read_phrase
from .output import say


async def cmd_device_list(args, kit) -> None:
    for device in await kit.devices.list(args.identity, include_removed=True):
        if device.removed:
            say(device.id, "(removed)", sep="\t")
            continue
        when = time.strftime("%Y-%m-%d", time.gmtime(device.added))
        say(device.id, device.name, when, "this device" if device.current else "",
            f"added by {device.added_by_name}", sep="\t")


CODE_INPUT_MAX = 64


def read_line(prompt: str, limit: int) -> str:
    """One line typed at the terminal (the prompt on stderr), or read from standard input."""
    if sys.stdin.isatty():
        sys.stderr.write(prompt)
        sys.stderr.flush()
    return sys.stdin.readline(limit).strip()


def read_code(offers: list[dict]) -> str:
    """The code the approving device shows, typed here. Who asked is said first (the
    account's name and fingerprint, and its device)."""
    for offer in offers:
        say(f"account {offer['name']!r} (fingerprint {offer['fingerprint']}) asks to add this device, "
            f"from its device {offer['approverName']!r}", err=True)
    return read_line("type the 6-digit code your other device shows (none shown: press Enter): ", CODE_INPUT_MAX)


async def cmd_device_link(args, kit) -> None:
    made = await kit.devices.request_link(args.name)
    say(made.link)
    say(f"give this link, or the code {made.code}, to a device of your account (meshkit device approve --as ..., "
        "on its standard input); it will show a code to type here", err=True)
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    linked = await kit.devices.wait_for_link(made.link, timeout=args.timeout,
                                             ask_code=lambda offers: loop.run_in_executor(None, read_code, offers))
    say(f"linked to account {linked.account} (fingerprint {linked.account_fingerprint})", err=True)


def show_code(code: str) -> None:
    say(f"type this code on the new device: {code}", err=True)
    sys.stderr.flush()


def read_link() -> str:
    """The new device's link or short code, typed or on standard input: never from the
    command line, which other users of this machine can read (either finds its secret)."""
    return read_line("the link or the code (XXXXX-XXXXX) the new device shows: ", MAX_LINK_TEXT + 2)


async def cmd_device_approve(args, kit) -> None:
    if args.link is not None:
        raise InvalidArgumentError("a device link (or its code) holds a secret: give it on standard input or at the "
                                   "prompt, not as an argument (other users of this machine can read arguments)")
    link = read_link()
    me = next((i for i in await kit.identity.list() if i.name == args.identity), None)
    if me is not None and me.account:
        say(f"adding the device to account {me.account} (fingerprint {me.account_fingerprint})", err=True)
    await kit.devices.approve(args.identity, link, on_code=show_code, timeout=args.timeout)
    me = next(i for i in await kit.identity.list() if i.name == args.identity)
    say(f"device added: account {me.account} is now at version {me.account_version}", err=True)


async def cmd_device_remove(args, kit) -> None:
    await kit.devices.remove(args.identity, args.device, phrase=read_phrase() if args.with_phrase else None)
    say(f"removed {len(args.device)} device(s); new envelopes and shares no longer reach them and the gateway "
        "refuses them. What they already downloaded stays with them.", err=True)


async def cmd_library(args, kit) -> None:
    """What the account holds, the same list on every device: my envelopes with their names,
    and what others shared or sealed to the account (this device's inbox kept in it first)."""
    library = await kit.library(args.identity)
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t)) if isinstance(t, int) else "-"  # noqa: E731
    for entry in library.envelopes:
        say(entry.root, "mine", day(entry.created), human_bytes(entry.size), entry.name, sep="\t")
    for share in library.shares:
        name, size = await described(kit, share.root, args.identity) if share.root else ("?", "-")
        say(share.root or "?", "received", day(share.received), size, name,
            f"from {share.sharer_name or share.sharer or '?'}", sep="\t")
    for contact in library.contacts:
        say(contact.id, "contact", "-", "-", f"{contact.name} (fingerprint {contact.fingerprint})", sep="\t")
    if not library.envelopes and not library.shares and not library.contacts:
        say("the library is empty", err=True)


def add_parsers(sub) -> None:
    p = sub.add_parser("library", help="your account's library: your envelopes with their names, and what "
                                       "was shared or sealed to you (the same on every device)")
    p.add_argument("--as", dest="identity", required=True, help="this device's identity")
    add_gateway(p)
    p.set_defaults(func=cmd_library)

    device = sub.add_parser("device", help="the devices of your account").add_subparsers(dest="action",
                                                                                         required=True)
    p = device.add_parser("list", help="the account's devices")
    p.add_argument("--as", dest="identity", required=True)
    add_gateway(p)
    p.set_defaults(func=cmd_device_list)
    p = device.add_parser("link", help="make this machine a device of an account: prints a link to open "
                                       "on an existing device, then waits")
    p.add_argument("name", help="this device's identity name")
    add_gateway(p)
    p.add_argument("--timeout", type=float, default=LINK_WAIT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_device_link)
    p = device.add_parser("approve", help="add a new device: reads its link or code from the terminal or standard "
                                          "input, prints a code to type on it, then waits for it to confirm")
    p.add_argument("link", nargs="?", help=argparse.SUPPRESS)  # refused: see cmd_device_approve
    p.add_argument("--as", dest="identity", required=True)
    add_gateway(p)
    p.add_argument("--timeout", type=float, default=LINK_WAIT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_device_approve)
    p = device.add_parser("remove", help="remove devices from the account (a lost laptop, an old phone)")
    p.add_argument("device", nargs="+", help="device id(s), from 'device list'")
    p.add_argument("--as", dest="identity", required=True)
    add_gateway(p)
    p.add_argument("--with-phrase", action="store_true",
                   help="sign with the recovery phrase (read from the terminal or standard input)")
    p.set_defaults(func=cmd_device_remove)
