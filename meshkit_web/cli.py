"""The ``meshkit`` command line (CPython runtime).

Contract relied on by users and tests:
  * ``seal`` prints the root CID as the last line of stdout;
  * any failure exits non-zero with ONE line on stderr naming the failure
    (``meshkit: <code>: <message>``) and leaves no output file behind;
  * progress bars go to stderr, only on a terminal.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time

from . import __version__
from .core.cid import cid_str, parse_cid
from .core.envelope import DEFAULT_SEGMENT_SIZE, open_envelope, seal
from .core.errors import MeshKitError
from .crypto.nacl_backend import NaclBackend
from .stores.carfile import CarReader, CarWriter
from .stores.filestore import FileStore

log = logging.getLogger("meshkit")
READ_CHUNK = 1 << 20


def _progress(total: int, label: str):
    """A tqdm bar on stderr; tqdm disables itself when stderr is not a terminal (disable=None)."""
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                file=sys.stderr, disable=None, leave=False)


async def _file_chunks(path: str, bar):
    """Read in a worker thread, so the next read overlaps sealing and writing the last one."""
    with open(path, "rb", buffering=0) as f:
        while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
            bar.update(len(chunk))
            yield chunk


async def cmd_identity_create(args, store: FileStore) -> None:
    identity = await store.create(args.name, int(time.time()))
    print(json.dumps(identity.public.to_json(), indent=2))


async def cmd_identity_show(args, store: FileStore) -> None:
    print(json.dumps((await store.load(args.name)).public.to_json(), indent=2))


async def cmd_identity_list(args, store: FileStore) -> None:
    for name in store.identity_names():
        identity = await store.load(name)
        print(f"{name}\t{identity.id}\t{identity.public.fingerprint}")


async def cmd_contact_add(args, store: FileStore) -> None:
    with open(args.file) as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError:
            raise MeshKitError(f"{args.file} is not a JSON identity record") from None
    public = await store.add_contact(record)
    print(f"added contact {public.name!r} {public.id}\nfingerprint {public.fingerprint} "
          "(compare it with your contact before sharing)")


async def cmd_contact_list(args, store: FileStore) -> None:
    for contact in await store.contacts():
        print(f"{contact.name}\t{contact.id}\t{contact.fingerprint}")


async def cmd_seal(args, store: FileStore) -> None:
    sender = await store.load(args.sender)
    recipients = [await store.resolve(name) for name in args.to]
    size = os.path.getsize(args.file)
    with CarWriter(args.car) as writer, _progress(size, "seal") as bar:
        root = None
        async for block in seal(store.backend, _file_chunks(args.file, bar), sender=sender,
                                recipients=recipients, now=int(time.time()),
                                segment_size=args.segment_size, include_sender=not args.no_self):
            await asyncio.to_thread(writer.put, block.cid, block.data)
            root = block.cid
        writer.commit(root)
    log.info("sealed %d bytes into %s (%s)", size, cid_str(root), args.car)
    print(cid_str(root))


async def cmd_open(args, store: FileStore) -> None:
    identity = await store.load(args.identity)
    with CarReader(args.source) as reader:
        if args.root:
            root = parse_cid(args.root)
        elif len(reader.roots) == 1:
            root = reader.roots[0]
        else:
            raise MeshKitError("the CAR does not name exactly one root: pass --root")
        opened = await open_envelope(store.backend, root, reader.get_block, identity)
        header = opened.header
        sender = await store.known(header.sender_id)
        who = f"{sender.name!r} ({header.sender_id})" if sender else f"unknown sender {header.sender_id}"
        print(f"from {who}", file=sys.stderr)
        directory = os.path.dirname(os.path.abspath(args.out))
        fd, tmp = tempfile.mkstemp(prefix=".meshkit-", suffix=".part", dir=directory)
        try:  # plaintext goes to a temp file, renamed only once every segment authenticated
            with os.fdopen(fd, "wb") as out, _progress(header.size, "open") as bar:
                async for chunk in opened.plaintext():
                    out.write(chunk)
                    bar.update(len(chunk))
            os.replace(tmp, args.out)
        except BaseException:
            os.unlink(tmp)
            raise
    print(f"opened {cid_str(root)}: {header.size} bytes -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meshkit", description="MeshKit Web: end-to-end-encrypted envelopes "
                                     "on content-addressed storage.")
    parser.add_argument("--version", action="version", version=f"meshkit {__version__}")
    parser.add_argument("--home", default=os.environ.get("MESHKIT_HOME", os.path.expanduser("~/.meshkit")),
                        help="where identities and contacts live (default $MESHKIT_HOME or ~/.meshkit)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr (no secrets)")
    sub = parser.add_subparsers(dest="command", required=True)

    identity = sub.add_parser("identity", help="your identities").add_subparsers(dest="action", required=True)
    p = identity.add_parser("create", help="create an identity (keys stored 0600 under the home)")
    p.add_argument("name")
    p.set_defaults(func=cmd_identity_create)
    p = identity.add_parser("show", help="print an identity's public record as JSON")
    p.add_argument("name")
    p.set_defaults(func=cmd_identity_show)
    identity.add_parser("list", help="list identities").set_defaults(func=cmd_identity_list)

    contact = sub.add_parser("contact", help="other people's public records").add_subparsers(
        dest="action", required=True)
    p = contact.add_parser("add", help="import a public record (JSON from 'identity show')")
    p.add_argument("file")
    p.set_defaults(func=cmd_contact_add)
    contact.add_parser("list", help="list contacts").set_defaults(func=cmd_contact_list)

    p = sub.add_parser("seal", help="encrypt a file into an envelope (CARv1)")
    p.add_argument("file")
    p.add_argument("--from", dest="sender", required=True, help="your identity name")
    p.add_argument("--to", action="append", required=True, help="recipient (identity or contact name or id)")
    p.add_argument("--car", required=True, help="output CAR file")
    p.add_argument("--segment-size", type=int, default=DEFAULT_SEGMENT_SIZE, help=argparse.SUPPRESS)
    p.add_argument("--no-self", action="store_true", help="do not make the sender a recipient")
    p.set_defaults(func=cmd_seal)

    p = sub.add_parser("open", help="verify and decrypt an envelope")
    p.add_argument("source", help="CAR file holding the envelope")
    p.add_argument("--as", dest="identity", required=True, help="your identity name")
    p.add_argument("--out", required=True, help="where to write the plaintext")
    p.add_argument("--root", help="root CID (default: the CAR's single root)")
    p.set_defaults(func=cmd_open)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="meshkit: %(levelname)s %(message)s", stream=sys.stderr)
    try:
        store = FileStore(args.home, NaclBackend())
        asyncio.run(args.func(args, store))
        return 0
    except MeshKitError as exc:
        print(f"meshkit: {exc}", file=sys.stderr)
    except OSError as exc:  # file not found, permissions, disk full: name the file, not its content
        print(f"meshkit: io_error: {exc.strerror or type(exc).__name__}: {exc.filename or ''}", file=sys.stderr)
    except KeyboardInterrupt:
        print("meshkit: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
