"""``meshkit seal / open / share / revoke / inbox / unpin / delete / usage``: kit.seal, kit.open,
kit.share, kit.revoke, kit.inbox, kit.unpin, kit.delete, kit.usage. Plaintext goes to a temp
file moved into place only once every segment authenticated (never over an existing file
unless --out names it), or to standard output ("-") each segment once it authenticated (a
failure later exits non-zero after what came before, as age does: check the exit code in a
pipe)."""

import argparse
import logging
import os
import sys
import time

from ..core.envelope import DEFAULT_SEGMENT_SIZE
from ..core.errors import InvalidArgumentError, MeshKitError
from ..core.metadata import safe_filename
from ..core.units import human_bytes
from ..kit.files import write_verified
from .common import add_gateway, gateway_url
from .output import progress, say

log = logging.getLogger("meshkit")


async def cmd_seal(args, kit) -> None:
    if bool(args.car) == bool(kit.gateway):
        raise InvalidArgumentError("seal needs exactly one of --car OUT.car or --gateway URL")
    import pathlib
    size = os.path.getsize(args.file)
    with progress(size, "seal+upload" if kit.gateway else "seal") as bar:
        sealed = await kit.seal(pathlib.Path(args.file), from_=args.sender, to=args.to, car=args.car,
                                pin=not args.no_pin, include_sender=not args.no_self,
                                segment_size=args.segment_size, on_progress=bar.to)
    if sealed.in_library is False:
        say("sealed and uploaded, but not in the account's library yet: its other devices do not list it", err=True)
    log.info("sealed %d bytes into %s (%s)", sealed.size, sealed.root, kit.safe_gateway or args.car)
    say(sealed.root)


def out_path(opened, out: str | None) -> str:
    """--out, or else the sender's file name made safe (core.metadata), never over a file."""
    if out:
        return out  # "-": standard output
    path = safe_filename(opened.name, fallback=opened.root + ".bin")
    if os.path.lexists(path):
        raise InvalidArgumentError(f"{path!r} exists here already: choose another name with --out")
    return path


async def write_plaintext(opened, out: str, *, replace: bool) -> None:
    who = f"{opened.sender_name!r} ({opened.sender})" if opened.sender_name else f"unknown sender {opened.sender}"
    say(f"from {who}" + (f": {opened.name!r}, {opened.type}" if opened.name else ""), err=True)
    if out == "-":
        async for chunk in opened.chunks():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    with progress(opened.size, "open") as bar:
        await write_verified(opened.chunks(), out, replace=replace, on_write=bar.update)


async def cmd_open(args, kit) -> None:
    car = None if kit.gateway else args.source
    opened = await kit.open(args.root if car else args.source, as_=args.identity, car=car)
    out = out_path(opened, args.out)
    await write_plaintext(opened, out, replace=args.out is not None)
    say(f"opened {opened.root}: {opened.size} bytes -> {'standard output' if out == '-' else out}", err=out == "-")


async def cmd_share(args, kit) -> None:
    share = await kit.share(args.root, from_=args.sender, to=args.to, expires=args.expires, policy=args.policy)
    say(f"shared {share.root} with {_reached(share)}", err=True)
    for capsule in share.capsules:
        say(capsule)


async def cmd_revoke(args, kit) -> None:
    revoked = await kit.revoke(args.root, from_=args.sender, to=args.to)
    say(f"revoked {len(revoked)} share(s) of {args.root} to {args.to!r}; "
        "future opens fail, what was already opened stays opened", err=True)
    for cid in revoked:
        say(cid)


def _reached(share) -> str:
    if share.account:
        return f"account {share.name!r} ({share.to}, {len(share.capsules) - 1} device(s) and its recovery key)"
    return f"{share.name!r} ({share.to})"


async def described(kit, root: str, as_: str) -> tuple[str, str]:
    """(the file's name, its size in words) of ``root`` as ``as_`` sees it (kit.describe:
    never spends a limited share's open), or what stops it: ("(revoked)", "-")."""
    try:
        found = await kit.describe(root, as_=as_)
    except MeshKitError as exc:
        return f"({exc.code})", "-"
    return found.name or "(no name)", human_bytes(found.size)


async def cmd_inbox(args, kit) -> None:
    """One line per message, tab-separated: when, kind, sender (name or id); for a share or a
    sealed notice the file's name and size and the root to act on (and when a share expires);
    for another message its size and id."""
    messages = await kit.inbox(args.identity, all=args.all)
    for message in messages:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(message.created))
        who = message.sender_name or message.sender
        if message.kind in ("share", "sealed") and message.root:
            extra = f" expires {time.strftime('%Y-%m-%d %H:%M', time.gmtime(message.expires))}" \
                if message.expires else ""
            say(when, message.kind, who, *await described(kit, message.root, args.identity),
                f"{message.root}{extra}", sep="\t")
        else:
            say(when, message.kind, who, human_bytes(message.size), message.id, sep="\t")
    if not messages:
        say("inbox is empty", err=True)


async def cmd_unpin(args, kit) -> None:
    root = await kit.unpin(args.root, as_=args.identity)
    grace = (await kit.usage(as_=args.identity)).gc_grace
    say(f"unpinned {root}: it no longer counts against your pin quota; its blocks count against your storage "
        f"until the gateway collects them{_after(grace)} (meshkit delete gives them back now)", err=True)
    say(root)


def _after(grace) -> str:
    if not isinstance(grace, int):
        return ""
    return f", {grace // 3600} h from now" if grace % 3600 == 0 else f", {grace // 60} min from now"


async def cmd_delete(args, kit) -> None:
    deleted = await kit.delete(args.root, as_=args.identity)
    done = [f"{len(deleted.revoked)} share(s) and send link(s) revoked"]
    done += ["unpinned"] if deleted.unpinned else ["it was not pinned by this identity"]
    if deleted.in_library is not None:
        done += ["removed from your account's library" if deleted.in_library
                 else "NOT yet removed from your account's library (run it again)"]
    done += [f"{human_bytes(deleted.released)} of your storage given back"]
    say(f"deleted {deleted.root}: " + "; ".join(done) + ". What was already opened stays opened.", err=True)
    say(deleted.root)


async def cmd_usage(args, kit) -> None:
    usage = await kit.usage(as_=args.identity)
    say("storage", f"{human_bytes(usage.stored)} of {human_bytes(usage.storage_quota)} used",
        f"{human_bytes(max(usage.storage_quota - usage.stored, 0))} free", sep="\t")
    say("pinned", f"{human_bytes(usage.pinned)} of {human_bytes(usage.pin_quota)} used",
        f"{human_bytes(max(usage.pin_quota - usage.pinned, 0))} free", sep="\t")


async def cmd_access(args, kit) -> None:
    """Who can open it, one line each: the header's recipients with their suite, then my shares."""
    from .identities import SUITES
    access = await kit.access(args.root, as_=args.identity)
    for entry in access.recipients:
        say("recipient", entry.id, entry.name or entry.account_name or "", SUITES[entry.suite], sep="\t")
    for share in access.shares:
        say("share", share.to, share.name or share.account_name or ("send link" if share.link else ""), share.state,
            sep="\t")


async def cmd_rewrap(args, kit) -> None:
    from .identities import SUITES
    done = await kit.rewrap(args.root, as_=args.identity)
    for entry in done.recipients:
        say(entry.id, SUITES[entry.suite], sep="\t", err=True)
    say(f"re-wrapped {done.replaced} as {done.root} (same segments); the old root stays pinned until you "
        f"unpin or delete it", err=True)
    print(done.root)


def add_parsers(sub) -> None:
    p = sub.add_parser("seal", help="encrypt a file into an envelope (a CARv1 file, or uploaded to a gateway)")
    p.add_argument("file")
    p.add_argument("--from", dest="sender", required=True, help="your identity name")
    p.add_argument("--to", action="append", default=[],
                   help="recipient (repeatable): identity or contact name, or an id (resolved from the gateway's "
                        "directory); a person with an account is reached on all their devices. Without --to: "
                        "only you (and your account's devices)")
    p.add_argument("--car", help="output CAR file")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="upload through this gateway instead (and pin the root)")
    p.add_argument("--no-pin", action="store_true", help="with --gateway: upload without pinning")
    p.add_argument("--segment-size", type=int, default=DEFAULT_SEGMENT_SIZE, help=argparse.SUPPRESS)
    p.add_argument("--no-self", action="store_true", help="do not make the sender a recipient")
    p.set_defaults(func=cmd_seal, env_gateway=lambda a: not a.car)  # $MESHKIT_GATEWAY when neither is given

    p = sub.add_parser("open", help="verify and decrypt an envelope")
    p.add_argument("source", help="a CAR file, or with --gateway the root CID")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    p.add_argument("--out", help="where to write the plaintext, '-' for standard output (default: the "
                                 "sender's file name, made safe, in this folder; an existing file is never "
                                 "overwritten)")
    p.add_argument("--root", help="root CID (default: the CAR's single root)")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="download through this gateway (each block CID-checked)")
    # a root CID, not a CAR file here: through $MESHKIT_GATEWAY
    p.set_defaults(func=cmd_open, env_gateway=lambda a: not os.path.exists(a.source))

    p = sub.add_parser("share", help="grant another identity access to an envelope (via a gateway)")
    p.add_argument("root", help="the envelope's root CID")
    p.add_argument("--from", dest="sender", required=True, help="your identity name (must be able to open it)")
    p.add_argument("--to", required=True, help="recipient: contact name or id")
    p.add_argument("--expires", help="a duration with its unit (90s, 30m, 12h, 7d, 2w) or an absolute time: "
                   "Unix seconds or ISO 8601 with a zone (2027-01-31T12:00:00Z); a bare number is a "
                   "Unix time, never a duration")
    p.add_argument("--policy", help="policy reference checked by the gateway's policy provider at each open")
    add_gateway(p)
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("revoke", help="revoke your shares of an envelope to someone (future opens fail)")
    p.add_argument("root")
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", required=True)
    add_gateway(p)
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("inbox", help="shares and messages sent to you: who sent what (name, size), and its root")
    p.add_argument("--as", dest="identity", required=True)
    p.add_argument("--all", action="store_true", help="include acknowledged messages")
    add_gateway(p)
    p.set_defaults(func=cmd_inbox)

    p = sub.add_parser("access", help="who can open an envelope: its header's recipients (each with its suite: "
                                      "post-quantum X-Wing or classic X25519) and the shares you made")
    p.add_argument("root", help="the envelope's root CID")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    add_gateway(p)
    p.set_defaults(func=cmd_access)
    about = ("wrap an envelope's key again to its recipients' current keys (post-quantum X-Wing where they have "
             "one) WITHOUT re-encrypting it: prints the new root (a new header, signed by you, over the same "
             "segments), which replaces the old one in your library; the old root stays until you unpin or delete "
             "it, and shares of it keep opening it. The content key stays the same: whoever kept the old header "
             "can still open it classically; against that, seal the file again")
    p = sub.add_parser("rewrap", help=about, description=about)
    p.add_argument("root", help="the envelope's root CID (you must be one of its header's recipients)")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    add_gateway(p)
    p.set_defaults(func=cmd_rewrap)

    for name, func, about in (
            ("unpin", cmd_unpin, "stop pinning an envelope: it leaves your pin quota now, and your storage once the "
                                 "gateway collects it"),
            ("delete", cmd_delete, "delete an envelope: revoke your shares and send links of it, unpin it, take it "
                                   "out of your library and give its storage back now"),
            ("usage", cmd_usage, "what you store at the gateway, against your storage and pin quotas")):
        p = sub.add_parser(name, help=about)
        if name != "usage":
            p.add_argument("root", help="the envelope's root CID")
        p.add_argument("--as", dest="identity", required=True, help="your identity name")
        add_gateway(p)
        p.set_defaults(func=func)
