"""The ``meshkit`` command line (CPython runtime).

Contract relied on by users and tests:
  * ``seal`` prints the root CID as the last line of stdout;
  * any failure exits non-zero with ONE line on stderr naming the failure
    (``meshkit: <code>: <message>``, a code of core.errors.registry()) and leaves no output
    file behind; with ``-v``, an internal error (a bug) adds the frames where it happened;
  * progress bars go to stderr, only on a terminal;
  * every line printed passes through cli_output (control characters escaped, URL
    credentials redacted): records, notices and server messages are untrusted text.
"""

import argparse
import asyncio
import json
import logging
import mimetypes
import os
import shutil
import sys
import tempfile
import time
import traceback

from . import __version__
from . import cli_accounts, cli_doctor, cli_output, cli_send
from .cli_output import say
from .clients.accounts import account_reaching, account_recipients, remember_shares, revoke_from, share_with
from .core.cid import cid_str, parse_cid
from .core.contact_link import linked_account, record_from_link
from .core.envelope import DEFAULT_SEGMENT_SIZE, open_envelope, seal
from .core.errors import EnvelopeFormatError, InternalError, InvalidArgumentError, LocalIOError, MeshKitError
from .core.identity import PublicIdentity, record_from_json
from .core.metadata import safe_filename
from .core.recipients import Reach, distinct, resolve_reach
from .core.urls import redact_url
from .crypto.nacl_backend import NaclBackend
from .stores.carfile import CarReader, CarWriter
from .stores.filestore import FileStore

log = logging.getLogger("meshkit")


def _progress(total: int, label: str):
    """A tqdm bar on stderr; tqdm disables itself when stderr is not a terminal (disable=None)."""
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                file=cli_output.raw_stderr(), disable=None, leave=False)


class FileSource:
    """A file to seal, read in a worker thread (the next read overlaps sealing and writing
    the last) exactly one segment at a time: core.pipeline.segments_of then has no pieces
    to re-cut, so each byte is copied once, from the kernel."""

    def __init__(self, path: str, bar):
        self.path, self.bar = path, bar

    async def segments(self, size: int):
        with open(self.path, "rb", buffering=0) as f:
            while piece := await asyncio.to_thread(_read_up_to, f, size):
                self.bar.update(len(piece))
                yield piece


def _read_up_to(f, size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the file (a read may return less: a pipe)."""
    piece = f.read(size)
    while piece and len(piece) < size:
        more = f.read(size - len(piece))
        if not more:
            break
        piece += more
    return piece


async def cmd_identity_create(args, store: FileStore) -> None:
    if args.phrase_file and not args.gateway:
        raise InvalidArgumentError("--phrase-file goes with --gateway (an account has a recovery phrase)")
    identity = await store.create(args.name, int(time.time()))
    if args.gateway:  # an account around this first device, its phrase shown once
        await cli_accounts.create_with_account(args, store, identity)
    print(json.dumps(identity.public.to_json(), indent=2))  # JSON escapes controls itself


async def cmd_identity_show(args, store: FileStore) -> None:
    record = (await store.load(args.name)).public.to_json()
    account = store.load_account(args.name)
    if account is not None:  # a claim the contact checks through the account's chain
        record["account"] = account.id
    print(json.dumps(record, indent=2))


async def cmd_identity_list(args, store: FileStore) -> None:
    for name in store.identity_names():
        identity = await store.load(name)
        say(name, identity.id, identity.public.fingerprint, sep="\t")


async def cmd_contact_add(args, store: FileStore) -> None:
    """A record's JSON file, or the app's contact link (a short one is checked against the
    gateway's directory record: the same id and fingerprint, or refused)."""
    if "#contact=" in args.file or args.file.startswith("contact="):
        gateway = args.gateway or _env_gateway()

        async def directory(ident: str) -> PublicIdentity:
            from .clients.gateway import GatewayClient
            async with GatewayClient(gateway, store.backend) as client:
                return await client.resolve(ident)
        record = await record_from_link(args.file, directory if gateway else None)
    else:
        with open(args.file) as f:
            try:
                record = json.load(f)
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's stack
                raise EnvelopeFormatError(f"{args.file} is not a JSON identity record") from None
    account = linked_account(args.file) if "#contact=" in args.file or args.file.startswith("contact=") else \
        (record.get("account") if isinstance(record, dict) and isinstance(record.get("account"), str) else None)
    public = await record_from_json(store.backend, record)
    kept = await _contact_account(args, store, public, account) if account else None
    public = await store.add_contact(record)
    say(f"added contact {public.name!r} {public.id}")
    if kept is not None:
        say(f"a device of account {kept.record.name!r} {kept.record.id}: sharing with it reaches the account")
        say(f"account fingerprint {kept.record.fingerprint} (compare it with your contact before sharing)")
    else:
        say(f"fingerprint {public.fingerprint} (compare it with your contact before sharing)")


async def _contact_account(args, store: FileStore, public: PublicIdentity, account: str):
    """The account the contact's link or record names, checked through its chain and kept."""
    from .clients.accounts import contact_account
    from .clients.gateway import GatewayClient
    gateway = args.gateway or _env_gateway()
    if not gateway:  # kept as a plain contact; checking the account needs the gateway's records
        say(f"this contact says it is a device of account {account}: add it again with --gateway to check that, "
            "so what you seal to it reaches the whole account", err=True)
        return None
    async with GatewayClient(gateway, store.backend) as client:
        kept = await contact_account(client, public, account, store.known_account(account))
    store.save_known_account(kept)
    return kept


async def cmd_contact_list(args, store: FileStore) -> None:
    for contact in await store.contacts():
        say(contact.name, contact.id, contact.fingerprint, sep="\t")


async def _reach(who: str, store: FileStore, client=None) -> Reach:
    """Core's one rule (core.recipients): an id means exactly that id, mine, a contact's or
    (with a gateway) the directory's verified record; a name means only a local name; with
    a gateway, a person with an account is reached through its current devices and recovery
    key (the account kept in this home, never rolled back)."""
    async def directory(ident: str) -> PublicIdentity:
        public = await client.resolve(ident)
        say(f"resolved {public.id} from the directory: {public.name!r}, fingerprint {public.fingerprint}", err=True)
        return public

    async def account(ident: str):
        kept = await account_reaching(client, ident, store.known_account(ident))
        if kept is not None:
            store.save_known_account(kept)
        return kept
    return await resolve_reach(who, own=await store.identities(), contacts=await store.contacts(),
                               directory=directory if client is not None else None,
                               account=account if client is not None else None)


def _reached(reach: Reach) -> str:
    if reach.account:
        return f"account {reach.name!r} ({reach.id}, {len(reach.identities) - 1} device(s) and its recovery key)"
    return f"{reach.name!r} ({reach.id})"


async def _gateway_client(args, store: FileStore, name: str):
    """A client for identity ``name``, its record published (idempotent) so it can authenticate."""
    from .clients.gateway import GatewayClient
    client = GatewayClient(args.gateway, store.backend, await store.load(name))
    client.library_keeper = store  # what this home verified of the account's library outlives the process
    await client.publish()
    return client


def _env_gateway() -> str | None:
    value = os.environ.get(GATEWAY_ENV)
    if not value:
        return None
    try:
        return gateway_url(value)
    except argparse.ArgumentTypeError:
        raise InvalidArgumentError(f"${GATEWAY_ENV} is not a gateway URL") from None


async def cmd_seal(args, store: FileStore) -> None:
    if not args.car and not args.gateway:
        args.gateway = _env_gateway()  # $MESHKIT_GATEWAY when neither is given
    if bool(args.car) == bool(args.gateway):
        raise InvalidArgumentError("seal needs exactly one of --car OUT.car or --gateway URL")
    sender = await store.load(args.sender)
    size = os.path.getsize(args.file)
    described = {"name": os.path.basename(args.file), "type": mimetypes.guess_type(args.file)[0],
                 "mtime": int(os.stat(args.file).st_mtime)}  # sealed inside: the gateway never sees them
    if args.gateway:
        async with await _gateway_client(args, store, args.sender) as client:
            recipients = [public for name in args.to for public in (await _reach(name, store, client)).identities]
            account = await cli_accounts.account_for_seal(client, store, args.sender)
            if account is not None:  # every device of my account, and its recovery key
                recipients += account_recipients(account)
            recipients = distinct(recipients)
            await client.check_room(size, len(recipients) + 1)  # too big is said now, not after uploading
            with _progress(size, "seal+upload") as bar:
                root = await client.seal_upload(FileSource(args.file, bar), recipients=recipients,
                                                segment_size=args.segment_size, include_sender=not args.no_self,
                                                pin=not args.no_pin, metadata=described)
            if account is not None:  # in the library, so every device (and a recovery) finds it
                await cli_accounts.remember_sealed(client, account, cid_str(root), os.path.basename(args.file), size)
        log.info("sealed %d bytes into %s via %s", size, cid_str(root), redact_url(args.gateway))
        say(cid_str(root))
        return
    recipients = distinct([public for name in args.to for public in (await _reach(name, store)).identities])
    with CarWriter(args.car) as writer, _progress(size, "seal") as bar:
        root = None
        async for block in seal(store.backend, FileSource(args.file, bar), sender=sender,
                                recipients=recipients, now=int(time.time()),
                                segment_size=args.segment_size, include_sender=not args.no_self,
                                metadata=described):
            await asyncio.to_thread(writer.put, block.cid, block.data)
            root = block.cid
        writer.commit(root)
    log.info("sealed %d bytes into %s (%s)", size, cid_str(root), args.car)
    say(cid_str(root))


def _out_path(opened, out: str | None) -> str:
    """--out, or else the sender's file name made safe (core.metadata), never over a file."""
    if out:
        return out  # "-": standard output
    meta = opened.metadata
    path = safe_filename(meta.name if meta else "", fallback=cid_str(opened.header.root) + ".bin")
    if os.path.lexists(path):
        raise InvalidArgumentError(f"{path!r} exists here already: choose another name with --out")
    return path


def _place(tmp: str, path: str, replace: bool) -> None:
    """Move the finished temp file to ``path``. Unless ``replace`` (an --out the user named),
    never over anything: a hard link fails if ``path`` exists by then, whatever appeared there
    since it was checked (a file, a symlink: not followed). Where hard links are refused, an
    exclusive create and a copy do the same."""
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise InvalidArgumentError(f"{path!r} appeared here while the file was being opened; it was left "
                                   "as it is: choose another name with --out") from None
    except OSError:  # no hard links on this filesystem (or across it)
        _copy_exclusive(tmp, path)
    os.unlink(tmp)


def _copy_exclusive(tmp: str, path: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise InvalidArgumentError(f"{path!r} appeared here while the file was being opened; it was left "
                                   "as it is: choose another name with --out") from None
    try:
        with os.fdopen(fd, "wb") as out, open(tmp, "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
    except BaseException:
        os.unlink(path)
        raise


async def _write_plaintext(opened, out_path: str, store: FileStore, *, replace: bool = True) -> None:
    """Plaintext goes to a temp file, moved into place only once every segment authenticated
    (never over an existing file unless ``replace``); to standard output ("-") each segment
    once it authenticated (a failure later exits non-zero after what came before, as age
    does: check the exit code in a pipe)."""
    header = opened.header
    sender = await store.known(header.sender_id)
    who = f"{sender.name!r} ({header.sender_id})" if sender else f"unknown sender {header.sender_id}"
    meta = opened.metadata
    say(f"from {who}" + (f": {meta.name!r}, {meta.type}" if meta else ""), err=True)
    if out_path == "-":
        async for chunk in opened.plaintext():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    directory = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(prefix=".meshkit-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, _progress(header.size, "open") as bar:
            async for chunk in opened.plaintext():
                out.write(chunk)
                bar.update(len(chunk))
        _place(tmp, out_path, replace)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


async def cmd_open(args, store: FileStore) -> None:
    identity = await store.load(args.identity)
    if not args.gateway and not os.path.exists(args.source):
        args.gateway = _env_gateway()  # a root CID, not a CAR file here: through $MESHKIT_GATEWAY
    if args.gateway:
        root = parse_cid(args.source)
        async with await _gateway_client(args, store, args.identity) as client:
            opened = await client.open(root)
            out = _out_path(opened, args.out)
            await _write_plaintext(opened, out, store, replace=args.out is not None)
    else:
        with CarReader(args.source) as reader:
            if args.root:
                root = parse_cid(args.root)
            elif len(reader.roots) == 1:
                root = reader.roots[0]
            else:
                raise InvalidArgumentError("the CAR does not name exactly one root: pass --root")
            opened = await open_envelope(store.backend, root, reader.get_block, identity)
            out = _out_path(opened, args.out)
            await _write_plaintext(opened, out, store, replace=args.out is not None)
    say(f"opened {cid_str(root)}: {opened.header.size} bytes -> {'standard output' if out == '-' else out}",
        err=out == "-")


async def cmd_share(args, store: FileStore) -> None:
    root = parse_cid(args.root)
    async with await _gateway_client(args, store, args.sender) as client:
        reach = await _reach(args.to, store, client)
        capsules = await share_with(client, root, reach, expires=await client.expiry(args.expires), policy=args.policy)
    say(f"shared {cid_str(root)} with {_reached(reach)}", err=True)
    for capsule in capsules:
        say(cid_str(capsule.cid))


async def cmd_revoke(args, store: FileStore) -> None:
    root = parse_cid(args.root)
    async with await _gateway_client(args, store, args.sender) as client:
        reach = await _reach(args.to, store, client)
        revoked = await revoke_from(client, root, reach)
    say(f"revoked {len(revoked)} share(s) of {cid_str(root)} to {_reached(reach)}; "
        "future opens fail, what was already opened stays opened", err=True)
    for cid in revoked:
        say(cid)


async def cmd_inbox(args, store: FileStore) -> None:
    async with await _gateway_client(args, store, args.identity) as client:
        rows = await client.inbox(include_acked=args.all)
        account = await cli_accounts.account_for_seal(client, store, args.identity)
        if account is not None and any(row.get("share") for row in rows):  # in the library: for my other devices
            await remember_shares(client, account, rows)
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["created"]))
        sender = await store.known(row["sender"])
        who = sender.name if sender else row["sender"]
        if row["kind"] == "share" and row.get("share"):
            share = row["share"]
            extra = f" expires {time.strftime('%Y-%m-%d %H:%M', time.gmtime(share['expires']))}" \
                if share.get("expires") else ""
            extra += f" policy {share['policy']}" if share.get("policy") else ""
            say(when, "share", who, f"{share['root']}{extra}", sep="\t")
        else:
            say(when, row["kind"], who, f"{row['size']} bytes", row["id"], sep="\t")
    if not rows:
        say("inbox is empty", err=True)


async def cmd_publish(args, store: FileStore) -> None:
    async with await _gateway_client(args, store, args.name) as client:
        result = await client.publish()
    say(f"published {result['id']} (fingerprint {result['fingerprint']}) to {redact_url(args.gateway)}")


GATEWAY_ENV = "MESHKIT_GATEWAY"


def add_gateway(parser, help: str | None = None) -> None:
    """--gateway URL, required unless $MESHKIT_GATEWAY names one (checked the same way)."""
    default = os.environ.get(GATEWAY_ENV) or None
    parser.add_argument("--gateway", metavar="URL", type=gateway_url, required=default is None,
                        default=default,  # argparse checks a string default with ``type`` too
                        help=(help or "the gateway") + f" (default: ${GATEWAY_ENV})")


def gateway_url(text: str) -> str:
    """A --gateway value: http(s)://[user:pass@]host[:port][/path]. Refused (without echoing
    it: it may hold a password) when it does not parse."""
    from .core.auth import canonical_url
    from .core.errors import InvalidArgumentError
    try:
        canonical_url(text)
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError("not a gateway URL (http(s)://host[:port][/path]; "
                                         "percent-encode '/', '?', '#' and '@' in a password)") from None
    return text


EXAMPLES = """examples:
  meshkit identity create alice --gateway URL      an account; its recovery kit is shown once
  export MESHKIT_GATEWAY=URL                         then --gateway may be left out
  meshkit seal report.pdf --from alice --to bob      encrypt, upload, pin; prints the root CID
  meshkit open bafy... --as bob                      saved under the sender's file name
  meshkit open bafy... --as bob --out - | less       the plaintext on standard output
  meshkit share bafy... --from alice --to bob --expires 7d
  meshkit contact add '<a contact link from the app>'      (its record is checked against the directory)
  meshkit device link phone                          on a new machine: a link and a code
  meshkit doctor --bundle support.json               checks, and a redacted support bundle

exit codes: 0 done; 1 refused or failed (one line on stderr: "meshkit: <code>: <message>");
2 a usage mistake; 130 interrupted."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meshkit", description="MeshKit Web: end-to-end-encrypted envelopes "
                                     "on content-addressed storage.", epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"meshkit {__version__}")
    parser.add_argument("--home", default=os.environ.get("MESHKIT_HOME", os.path.expanduser("~/.meshkit")),
                        help="where identities and contacts live (default $MESHKIT_HOME or ~/.meshkit)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr, and where an internal error happened (no secrets)")
    sub = parser.add_subparsers(dest="command", required=True)

    identity = sub.add_parser("identity", help="your identities").add_subparsers(dest="action", required=True)
    p = identity.add_parser("create", help="create an identity (keys stored 0600 under the home); with "
                                            "--gateway, an account around it, with a recovery phrase")
    p.add_argument("name")
    p.add_argument("--gateway", metavar="URL", type=gateway_url,
                   help="also create an account there: its recovery phrase is shown once, on the terminal")
    p.add_argument("--phrase-file", metavar="PATH", help="with no terminal: write the recovery kit to this new "
                                                         "file (0600) instead")
    p.set_defaults(func=cmd_identity_create)
    p = identity.add_parser("show", help="print an identity's public record as JSON")
    p.add_argument("name")
    p.set_defaults(func=cmd_identity_show)
    identity.add_parser("list", help="list identities").set_defaults(func=cmd_identity_list)

    contact = sub.add_parser("contact", help="other people's public records").add_subparsers(
        dest="action", required=True)
    p = contact.add_parser("add", help="import a public record (JSON from 'identity show') or a contact link "
                                       "from the app")
    p.add_argument("file", help="a JSON file, or a contact link (quote it: it holds '#')")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="where a short link's record is looked up")
    p.set_defaults(func=cmd_contact_add)
    contact.add_parser("list", help="list contacts").set_defaults(func=cmd_contact_list)

    p = identity.add_parser("publish", help="publish an identity's public record to a gateway's directory")
    p.add_argument("name")
    add_gateway(p)
    p.set_defaults(func=cmd_publish)

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
    p.set_defaults(func=cmd_seal)

    p = sub.add_parser("open", help="verify and decrypt an envelope")
    p.add_argument("source", help="a CAR file, or with --gateway the root CID")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    p.add_argument("--out", help="where to write the plaintext, '-' for standard output (default: the "
                                 "sender's file name, made safe, in this folder; an existing file is never "
                                 "overwritten)")
    p.add_argument("--root", help="root CID (default: the CAR's single root)")
    p.add_argument("--gateway", metavar="URL", type=gateway_url, help="download through this gateway (each block CID-checked)")
    p.set_defaults(func=cmd_open)

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

    p = sub.add_parser("inbox", help="shares and messages sent to you")
    p.add_argument("--as", dest="identity", required=True)
    p.add_argument("--all", action="store_true", help="include acknowledged messages")
    add_gateway(p)
    p.set_defaults(func=cmd_inbox)

    cli_accounts.add_parsers(sub, identity, add_gateway)
    cli_doctor.add_parser(sub, gateway_url)
    cli_send.add_parsers(sub, add_gateway, gateway_url)

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
    p.add_argument("--check", action="store_true",
                   help="check and repair the store after a crash (every block hashed, temp files, charges, "
                        "pins), print what was found, and exit; run it while no gateway serves --data")
    p.set_defaults(func=None, sync_func=cmd_serve)
    return parser


def cmd_serve(args) -> None:
    from .gateway.server import check_alone, run
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
        audience=args.audience, workers=args.workers, trusted_proxies=args.trusted_proxy)


def main(argv: list[str] | None = None) -> int:
    cli_output.install()  # before anything prints, argparse's usage errors included
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="meshkit: %(levelname)s %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # the terminal's level, whatever a logger lets through
        handler.setLevel(level)                   # (doctor's recent-log buffer keeps INFO)
    try:
        if args.func is None:  # serve: runs its own event loop
            args.sync_func(args)
            return 0
        store = FileStore(args.home, NaclBackend())
        asyncio.run(args.func(args, store))
        return 0
    except MeshKitError as exc:
        say(f"meshkit: {exc.code}: {exc.message}", err=True)
    except OSError as exc:  # file not found, permissions, disk full: name the file, not its content
        say(f"meshkit: {LocalIOError.code}: {exc.strerror or type(exc).__name__}: {exc.filename or ''}", err=True)
    except KeyboardInterrupt:
        say("meshkit: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: its type only (a message or traceback may quote secrets)
        if not args.verbose:
            say(f"meshkit: {InternalError.code}: {type(exc).__name__} (run with -v for details)", err=True)
        else:
            say(f"meshkit: {InternalError.code}: {type(exc).__name__}", err=True)
            for line in internal_frames(exc):
                say(line, err=True)
    return 1


def internal_frames(exc: BaseException) -> list[str]:
    """Where a bug happened, for ``-v``: each frame of the traceback (file, line, function),
    and of the exceptions it was raised from, by type. Never an exception's message, a
    source line or a local: any of them could quote a secret or the user's data."""
    lines, seen = [], set()
    while exc is not None and id(exc) not in seen:
        if seen:
            lines.append(f"meshkit:   caused by {type(exc).__name__}:")
        seen.add(id(exc))
        for frame in traceback.extract_tb(exc.__traceback__):
            lines.append(f"meshkit:   {frame.filename}:{frame.lineno} in {frame.name}")
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return lines


if __name__ == "__main__":
    sys.exit(main())
