"""The ``meshkit`` command line: a thin layer over the Python API (``MeshKit``, kit/api.py),
one module per command family; output.py is the only writer to the terminal.

Contract relied on by users and tests:
  * ``seal`` prints the root CID as the last line of stdout;
  * any failure exits non-zero with ONE line on stderr naming the failure
    (``meshkit: <code>: <message>``, a code of core.errors.registry()) and leaves no output
    file behind; with ``-v``, an internal error (a bug) adds the frames where it happened;
  * progress bars go to stderr, only on a terminal;
  * every line printed passes through output.py (control characters escaped, URL
    credentials redacted): records, notices and server messages are untrusted text.
"""

import argparse
import asyncio
import logging
import os
import sys
import traceback

from .. import __version__
from ..core.errors import InternalError, LocalIOError, MeshKitError
from . import accounts, doctor, envelopes, identities, output, send, serve
from .common import HOME_ENV, env_gateway, kit_for
from .output import say

log = logging.getLogger("meshkit")

EXAMPLES = """examples:
  meshkit identity create alice --gateway URL      an account; its recovery kit is shown once
  export MESHKIT_GATEWAY=URL                         then --gateway may be left out (identity create too)
  meshkit seal report.pdf --from alice --to bob      encrypt, upload, pin; prints the root CID
  meshkit open bafy... --as bob                      saved under the sender's file name
  meshkit open bafy... --as bob --out - | less       the plaintext on standard output
  meshkit share bafy... --from alice --to bob --expires 7d
  meshkit usage --as alice                           your storage and pin quotas, used and free
  meshkit delete bafy... --as alice                  revoke its shares, unpin, give its storage back now
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
    parser.add_argument("--home", default=os.environ.get(HOME_ENV, os.path.expanduser("~/.meshkit")),
                        help="where identities and contacts live (default $MESHKIT_HOME or ~/.meshkit)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log progress to stderr, and where an internal error happened (no secrets)")
    sub = parser.add_subparsers(dest="command", required=True)
    identities.add_parsers(sub)
    envelopes.add_parsers(sub)
    accounts.add_parsers(sub)
    doctor.add_parsers(sub)
    send.add_parsers(sub)
    serve.add_parsers(sub)
    return parser


async def run_command(args) -> None:
    """The command, through the MeshKit of this home (and gateway); doctor looks at the home
    itself."""
    if args.func is doctor.cmd_doctor:
        from ..crypto.nacl_backend import NaclBackend
        from ..stores.filestore import FileStore
        return await doctor.cmd_doctor(args, FileStore(args.home, NaclBackend()))
    wants_env = getattr(args, "env_gateway", False)
    if not getattr(args, "gateway", None) and (wants_env(args) if callable(wants_env) else wants_env):
        args.gateway = env_gateway()
    async with kit_for(args) as kit:
        on_change = kit.on_change(_tell)
        try:
            await args.func(args, kit)
        finally:
            on_change()


def _tell(event: dict) -> None:
    if event.get("type") == "resolved":
        say(f"resolved {event['id']} from the directory: {event['name']!r}, fingerprint {event['fingerprint']}",
            err=True)


def main(argv: list[str] | None = None) -> int:
    output.install()  # before anything prints, argparse's usage errors included
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="meshkit: %(levelname)s %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # the terminal's level, whatever a logger lets through
        handler.setLevel(level)                   # (doctor's recent-log buffer keeps INFO)
    try:
        if args.func is None:  # serve: runs its own event loop
            args.sync_func(args)
            return 0
        asyncio.run(run_command(args))
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
