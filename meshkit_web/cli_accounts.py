"""``meshkit identity create --gateway`` / ``identity recover`` / ``device ...``: accounts
in the CLI (FORMAT.md section 11; the protocol is clients/accounts.py).

The recovery phrase is shown once, on the terminal (/dev/tty), never on stdout or stderr
(which may be a log); without a terminal it goes to a new 0600 file named by
``--phrase-file``. It is read back from the terminal without echo, or from standard input;
never from the command line, which other users can see.
"""

import argparse
import asyncio
import getpass
import os
import sys
import time

from .cli_output import say
from .clients import accounts
from .core.errors import ConflictError, InvalidArgumentError, UnavailableError

PHRASE_INPUT_MAX = 1024


def show_phrase(phrase: str, account_id: str, fingerprint: str, phrase_file: str | None) -> str:
    """Where the phrase went: "terminal" or the file."""
    kit = (f"MeshKit recovery kit\naccount     {account_id}\nfingerprint {fingerprint}\n\n"
           f"recovery phrase (24 words):\n{phrase}\n\nKeep this safe and offline. With it, anyone can open "
           "everything shared with this account; without it, losing every device loses everything.\n")
    if phrase_file:
        fd = os.open(phrase_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(kit)
        return phrase_file
    try:
        with open("/dev/tty", "w") as tty:
            tty.write("\n" + kit + "\n")
        return "terminal"
    except OSError:
        raise InvalidArgumentError("no terminal to show the recovery phrase on: pass --phrase-file PATH "
                                   "(a new file, mode 0600)") from None


def read_phrase() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("recovery phrase (24 words): ")
    text = sys.stdin.read(PHRASE_INPUT_MAX + 1)
    if len(text) > PHRASE_INPUT_MAX:
        raise InvalidArgumentError("a recovery phrase is 24 words")
    return text


async def _client(args, store, name: str):
    from .clients.gateway import GatewayClient
    client = GatewayClient(args.gateway, store.backend, await store.load(name))
    client.library_keeper = store  # what this home verified of the account's library outlives the process
    await client.publish()
    return client


async def _account(client, store, name: str):
    known = store.load_account(name)
    if known is None:
        raise InvalidArgumentError(f"{name!r} is not a device of an account here (identity create --gateway, "
                           "identity recover or device link)")
    record = await client.fetch_account(known.id, known=known)
    store.save_account(name, record)
    return record


async def account_for_seal(client, store, name: str):
    """The sender's account (refreshed), or None for a plain identity."""
    return await _account(client, store, name) if store.load_account(name) is not None else None


async def remember_sealed(client, record, root: str, name: str, size: int) -> bool:
    """Put a sealed envelope in the account's library; False (said on stderr) when that did
    not land. The seal stands either way: its upload succeeded, so it is not reported failed."""
    try:
        await accounts.save_library(client, record, lambda library: library.put(
            f"envelope:{root}", {"name": name, "size": size, "created": int(time.time())}, int(time.time())))
    except (ConflictError, UnavailableError) as exc:
        say(f"sealed and uploaded, but not in the account's library yet ({exc.code}): "
            "its other devices do not list it", err=True)
        return False
    return True


async def create_with_account(args, store, identity) -> None:
    async with await _client(args, store, args.name) as client:
        phrase, record = await accounts.create_account(client, args.name)
    store.save_account(args.name, record)
    where = show_phrase(phrase, record.id, record.fingerprint, args.phrase_file)
    del phrase
    say(f"account {record.id} created, fingerprint {record.fingerprint}; its recovery phrase is on the "
        f"{'terminal' if where == 'terminal' else 'file ' + where}: write it down, then delete any copy "
        "on this machine", err=True)


async def cmd_identity_recover(args, store) -> None:
    from .core.account import secret_from_phrase
    phrase = read_phrase()
    secret_from_phrase(phrase)  # a mistyped phrase fails here, before anything is created
    await store.create(args.name, int(time.time()))
    async with await _client(args, store, args.name) as client:
        record, keys = await accounts.recover_account(client, phrase)
        store.save_account(args.name, record)
        library, restored = await accounts.recover_library(client, record, keys)
        del keys
    say(f"recovered account {record.id} (fingerprint {record.fingerprint}) on device {args.name}: "
        f"{restored} envelope(s) open again", err=True)
    say(record.id)


async def cmd_device_list(args, store) -> None:
    async with await _client(args, store, args.identity) as client:
        record = await _account(client, store, args.identity)
    me = client.identity.id
    for device in record.devices:
        when = time.strftime("%Y-%m-%d", time.gmtime(device.added))
        say(device.id, device.device.name, when, "this device" if device.id == me else "",
            f"added by {record.added_by(device)}", sep="\t")
    for removed in record.removed:
        say(removed, "(removed)", sep="\t")


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


async def cmd_device_link(args, store) -> None:
    if args.name not in store.identity_names():
        await store.create(args.name, int(time.time()))
    async with await _client(args, store, args.name) as client:
        link = await accounts.request_link(client)
        say(link)
        say("open this link on a device of your account (meshkit device approve LINK --as ...); it will show a "
            "code to type here", err=True)
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        record = await accounts.wait_for_link(client, link, timeout=args.timeout,
                                              ask_code=lambda offers: loop.run_in_executor(None, read_code, offers))
    store.save_account(args.name, record)
    say(f"linked to account {record.id} (fingerprint {record.fingerprint})", err=True)


def show_code(code: str) -> None:
    say(f"type this code on the new device: {code}", err=True)
    sys.stderr.flush()


def read_link() -> str:
    """The new device's link, typed or on standard input: never from the command line, which
    other users of this machine can read (the link holds its secret)."""
    return read_line("the link the new device shows: ", accounts.MAX_LINK_TEXT + 2)


async def cmd_device_approve(args, store) -> None:
    if args.link is not None:
        raise InvalidArgumentError("a device link holds a secret: give it on standard input or at the prompt, "
                                   "not as an argument (other users of this machine can read arguments)")
    args.link = read_link()
    async with await _client(args, store, args.identity) as client:
        record = await _account(client, store, args.identity)
        say(f"adding the device to account {record.id} (fingerprint {record.fingerprint})", err=True)
        record = await accounts.approve_link(client, record, args.link, show_code=show_code, timeout=args.timeout)
    store.save_account(args.identity, record)
    say(f"device added: account {record.id} is now at version {record.version}", err=True)


async def cmd_device_remove(args, store) -> None:
    async with await _client(args, store, args.identity) as client:
        record = await _account(client, store, args.identity)
        keys = None
        if args.with_phrase:
            from .core.account import derive_recovery_keys, secret_from_phrase
            keys = await derive_recovery_keys(store.backend, secret_from_phrase(read_phrase()))
            if keys.account_id != record.id:
                raise InvalidArgumentError("that phrase belongs to another account")
        record = await accounts.remove_devices(client, record, args.device, keys=keys)
    store.save_account(args.identity, record)
    say(f"removed {len(args.device)} device(s); new envelopes and shares no longer reach them and the gateway "
        "refuses them. What they already downloaded stays with them.", err=True)


async def cmd_library(args, store) -> None:
    """What the account holds, the same list on every device: my envelopes with their names,
    and what others shared or sealed to the account (this device's inbox kept in it first)."""
    async with await _client(args, store, args.identity) as client:
        record = await _account(client, store, args.identity)
        library, _, _ = await accounts.remember_shares(client, record, await client.inbox(include_acked=True))
    contacts = await accounts.library_contacts(store.backend, library)
    local = await store.contacts()
    known, names = {c.id for c in local}, {c.name for c in local} | set(store.identity_names())
    for public in contacts:  # contacts my other devices added: kept here too, never over a local name
        if public.id not in known and public.name not in names:
            await store.add_contact(public.to_json())
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t)) if isinstance(t, int) else "-"  # noqa: E731
    envelopes, shares = library.items("envelope"), library.items("share")
    for root, entry in envelopes.items():
        say(root, "mine", day(entry.get("created")), entry.get("size", "-"), entry.get("name", ""), sep="\t")
    for entry in shares.values():
        sender = await store.known(str(entry.get("sharer", "")))
        who = sender.name if sender else entry.get("sharer", "?")
        say(entry.get("root", "?"), "received", day(entry.get("received")), "-", f"from {who}", sep="\t")
    for public in contacts:
        say(public.id, "contact", "-", "-", f"{public.name} (fingerprint {public.fingerprint})", sep="\t")
    if not envelopes and not shares and not contacts:
        say("the library is empty", err=True)


def add_parsers(sub, identity, add_gateway) -> None:
    p = identity.add_parser("recover", help="recover an account on this machine from its recovery phrase "
                                             "(read from the terminal or standard input, never arguments)")
    p.add_argument("name", help="a new identity name for this device")
    add_gateway(p)
    p.set_defaults(func=cmd_identity_recover)

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
    p.add_argument("--timeout", type=float, default=accounts.LINK_WAIT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_device_link)
    p = device.add_parser("approve", help="add a new device: reads its link from the terminal or standard "
                                          "input, prints a code to type on it, then waits for it to confirm")
    p.add_argument("link", nargs="?", help=argparse.SUPPRESS)  # refused: see cmd_device_approve
    p.add_argument("--as", dest="identity", required=True)
    add_gateway(p)
    p.add_argument("--timeout", type=float, default=accounts.LINK_WAIT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_device_approve)
    p = device.add_parser("remove", help="remove devices from the account (a lost laptop, an old phone)")
    p.add_argument("device", nargs="+", help="device id(s), from 'device list'")
    p.add_argument("--as", dest="identity", required=True)
    add_gateway(p)
    p.add_argument("--with-phrase", action="store_true",
                   help="sign with the recovery phrase (read from the terminal or standard input)")
    p.set_defaults(func=cmd_device_remove)
