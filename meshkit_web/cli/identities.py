"""``meshkit identity ...`` and ``meshkit contact ...``: kit.identity and kit.contacts.

The recovery phrase is shown once, on the terminal (/dev/tty), never on stdout or stderr
(which may be a log); without a terminal it goes to a new 0600 file named by
``--phrase-file``. It is read back from the terminal without echo, or from standard input;
never from the command line, which other users can see."""

import getpass
import json
import os
import sys

from ..core.contact_link import linked_account
from ..core.errors import EnvelopeFormatError, InvalidArgumentError
from .common import add_gateway, gateway_url
from .output import say

PHRASE_INPUT_MAX = 1024


def _kit_text(phrase: str, account_id: str, fingerprint: str) -> str:
    return (f"MeshKit recovery kit\naccount     {account_id}\nfingerprint {fingerprint}\n\n"
            f"recovery phrase (24 words):\n{phrase}\n\nKeep this safe and offline. With it, anyone can open "
            "everything shared with this account; without it, losing every device loses everything.\n")


def check_phrase_destination(phrase_file: str | None) -> None:
    """Before an account is made: the phrase will have somewhere to go (a terminal, or a new
    file), so it is never made and then lost."""
    if phrase_file:
        if os.path.lexists(phrase_file):
            raise InvalidArgumentError(f"{phrase_file!r} exists: --phrase-file names a new file")
        return
    try:
        open("/dev/tty", "w").close()
    except OSError:
        raise InvalidArgumentError("no terminal to show the recovery phrase on: pass --phrase-file PATH "
                                   "(a new file, mode 0600), or --no-account for an identity without one") from None


def show_phrase(phrase: str, account_id: str, fingerprint: str, phrase_file: str | None) -> str:
    """Where the phrase went: "terminal" or the file."""
    kit = _kit_text(phrase, account_id, fingerprint)
    if phrase_file:
        fd = os.open(phrase_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(kit)
        return phrase_file
    with open("/dev/tty", "w") as tty:
        tty.write("\n" + kit + "\n")
    return "terminal"


def read_phrase() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("recovery phrase (24 words): ")
    text = sys.stdin.read(PHRASE_INPUT_MAX + 1)
    if len(text) > PHRASE_INPUT_MAX:
        raise InvalidArgumentError("a recovery phrase is 24 words")
    return text


async def cmd_identity_create(args, kit) -> None:
    """With a gateway (--gateway, else $MESHKIT_GATEWAY): an account around the identity, its
    recovery phrase shown once; with none, or --no-account, a bare identity, said so."""
    account = bool(args.gateway) and not args.no_account
    if args.phrase_file and not account:
        raise InvalidArgumentError("--phrase-file is where an account's recovery phrase goes: it needs a gateway "
                                   "(--gateway URL or $MESHKIT_GATEWAY), and no --no-account")
    if account:
        check_phrase_destination(args.phrase_file)
    if args.device_name and not account:
        raise InvalidArgumentError("--device-name is this device's name in an account: it needs a gateway "
                                   "(--gateway URL or $MESHKIT_GATEWAY), and no --no-account")
    created = await kit.identity.create(args.name, account=account, device_name=args.device_name)
    if created.account:  # an account around this first device, its phrase shown once
        where = show_phrase(created.recovery_phrase, created.account, created.account_fingerprint, args.phrase_file)
        say(f"account {created.account} created, fingerprint {created.account_fingerprint}; its recovery phrase is "
            f"on the {'terminal' if where == 'terminal' else 'file ' + where}: write it down, then delete any copy "
            "on this machine", err=True)
    else:
        why = "--no-account" if args.no_account else "no gateway: neither --gateway nor $MESHKIT_GATEWAY"
        say(f"identity {args.name!r} has NO account and NO recovery phrase ({why}): it lives in this home only, "
            "with no other devices, and losing this home loses it. For an account, create an identity with a "
            "gateway: meshkit identity create NAME --gateway URL (or set $MESHKIT_GATEWAY)", err=True)
    print(json.dumps(await kit.identity.record(args.name), indent=2))  # JSON escapes controls itself


SUITES = {"x-wing": "post-quantum: X-Wing (ML-KEM-768 + X25519)", "x25519": "classic X25519"}


async def cmd_identity_show(args, kit) -> None:
    """The record on stdout (JSON, for 'contact add'); what senders wrap to it on stderr."""
    record = await kit.identity.record(args.name)
    say(f"{args.name}: {SUITES['x-wing' if record.get('pq_key') else 'x25519']}", err=True)
    print(json.dumps(record, indent=2))


async def cmd_identity_list(args, kit) -> None:
    for identity in await kit.identity.list():
        say(identity.name, identity.id, identity.fingerprint, sep="\t")


async def cmd_identity_publish(args, kit) -> None:
    identity = await kit.identity.publish(args.name)
    say(f"published {identity.id} (fingerprint {identity.fingerprint}) to {kit.safe_gateway}")


async def cmd_identity_recover(args, kit) -> None:
    from ..core.account import secret_from_phrase
    phrase = read_phrase()
    secret_from_phrase(phrase)  # a mistyped phrase fails here, before anything is created
    recovered = await kit.identity.recover(args.name, phrase, device_name=args.device_name)
    del phrase
    say(f"recovered account {recovered.account} (fingerprint {recovered.account_fingerprint}) on device "
        f"{args.name}: {recovered.restored} envelope(s) open again", err=True)
    say(recovered.account)


async def cmd_identity_new_phrase(args, kit) -> None:
    """A new recovery phrase for the account, shown once as create shows it (the terminal, or
    a new 0600 --phrase-file); the old one recovers nothing from now on."""
    check_phrase_destination(args.phrase_file)
    made = await kit.identity.new_recovery_phrase(args.name)
    where = show_phrase(made.recovery_phrase, made.account, made.account_fingerprint, args.phrase_file)
    say(f"account {made.account} (version {made.account_version}) has a new recovery phrase, on the "
        f"{'terminal' if where == 'terminal' else 'file ' + where}: write it down, then confirm it with "
        f"'meshkit identity confirm-kit {args.name}'. The old phrase no longer recovers the account; what was "
        "sealed to its key before stays openable by it", err=True)
    if not made.library_sealed:
        say("the library was not sealed to the new phrase yet: it will be at the next change", err=True)


async def cmd_identity_confirm_kit(args, kit) -> None:
    """The phrase typed back (terminal without echo, or standard input): the kit is confirmed
    for every device of the account."""
    confirmed = await kit.identity.confirm_recovery_kit(args.name, read_phrase())
    say(f"recovery kit of account {confirmed.account}: {confirmed.recovery_kit}", err=True)


def _contact_input(text: str):
    """(what kit.contacts.add takes, the account it claims): a contact link as it is; a JSON
    record file read here."""
    if "#contact=" in text or text.startswith("contact="):
        return text, linked_account(text)
    with open(text) as f:
        try:
            record = json.load(f)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's stack
            raise EnvelopeFormatError(f"{text} is not a JSON identity record") from None
    return record, record.get("account") if isinstance(record, dict) and isinstance(record.get("account"), str) \
        else None


async def cmd_contact_add(args, kit) -> None:
    """A record's JSON file, or the app's contact link (a short one is checked against the
    gateway's directory record: the same id and fingerprint, or refused)."""
    given, account = _contact_input(args.file)
    contact = await kit.contacts.add(given)
    say(f"added contact {contact.name!r} {contact.id}")
    if contact.account is not None:
        say(f"a device of {contact.account_name!r}'s account {contact.account}: sharing with it reaches the account")
        say(f"account fingerprint {contact.account_fingerprint} (compare it with your contact before sharing)")
        return
    if account and kit.gateway is None:  # kept as a plain contact: checking the account needs the gateway
        say(f"this contact says it is a device of account {account}: add it again with --gateway to check that, "
            "so what you seal to it reaches the whole account", err=True)
    say(f"fingerprint {contact.fingerprint} (compare it with your contact before sharing)")


async def cmd_contact_list(args, kit) -> None:
    for contact in await kit.contacts.list():
        say(contact.name, contact.id, contact.fingerprint, sep="\t")


def add_parsers(sub) -> None:
    identity = sub.add_parser("identity", help="your identities").add_subparsers(dest="action", required=True)
    p = identity.add_parser("create", help="create an identity (keys stored 0600 under the home), post-quantum "
                                            "(an X-Wing key beside the X25519 one); with a gateway, an account "
                                            "around it, with a recovery phrase")
    p.add_argument("name")
    p.add_argument("--gateway", metavar="URL", type=gateway_url,
                   help="also create an account there: its recovery phrase is shown once, on the terminal "
                        "(default: $MESHKIT_GATEWAY; with neither, a bare identity without an account)")
    p.add_argument("--phrase-file", metavar="PATH", help="with no terminal: write the recovery kit to this new "
                                                         "file (0600) instead")
    p.add_argument("--no-account", action="store_true",
                   help="a bare identity: no account, no recovery phrase, no other devices (even with a gateway)")
    p.add_argument("--device-name", metavar="NAME",
                   help="this device's name in the account, as 'device list' shows it (default: the host name); "
                        "NAME is the person's, the account's")
    p.set_defaults(func=cmd_identity_create, env_gateway=lambda a: not a.no_account)
    p = identity.add_parser("show", help="print an identity's public record as JSON (and, on stderr, its suite: "
                                          "post-quantum X-Wing, or classic X25519)")
    p.add_argument("name")
    p.set_defaults(func=cmd_identity_show)
    identity.add_parser("list", help="list identities").set_defaults(func=cmd_identity_list)
    p = identity.add_parser("publish", help="publish an identity's public record to a gateway's directory")
    p.add_argument("name")
    add_gateway(p)
    p.set_defaults(func=cmd_identity_publish)
    p = identity.add_parser("recover", help="recover an account on this machine from its recovery phrase "
                                             "(read from the terminal or standard input, never arguments)")
    p.add_argument("name", help="a new identity name for this device")
    p.add_argument("--device-name", metavar="NAME", help="this device's name in the account (default: NAME)")
    add_gateway(p)
    p.set_defaults(func=cmd_identity_recover)
    p = identity.add_parser("new-phrase", help="replace the account's recovery phrase (shown once, on the "
                                                "terminal); the old one no longer recovers it")
    p.add_argument("name", help="a device of the account, on this machine")
    p.add_argument("--phrase-file", metavar="PATH", help="with no terminal: write the new recovery kit to this "
                                                         "new file (0600) instead")
    add_gateway(p)
    p.set_defaults(func=cmd_identity_new_phrase)
    p = identity.add_parser("confirm-kit", help="type the recovery phrase back (terminal or standard input): "
                                                 "the kit is confirmed for every device of the account")
    p.add_argument("name")
    add_gateway(p)
    p.set_defaults(func=cmd_identity_confirm_kit)

    contact = sub.add_parser("contact", help="other people's public records").add_subparsers(
        dest="action", required=True)
    p = contact.add_parser("add", help="import a public record (JSON from 'identity show') or a contact link "
                                       "from the app")
    p.add_argument("file", help="a JSON file, or a contact link (quote it: it holds '#')")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="where a short link's record is looked up")
    p.set_defaults(func=cmd_contact_add, env_gateway=True)
    contact.add_parser("list", help="list contacts").set_defaults(func=cmd_contact_list)
