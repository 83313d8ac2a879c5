"""Everything the CLI writes goes through here: no terminal escapes, no credentials.

Untrusted strings (names in records, policy refs, share notices, server error messages)
must not reach the terminal raw: an ANSI escape can recolour or rewrite earlier lines, a
carriage return can overwrite a line, a bidi override can reverse what a CID or an id
reads as. So:

* :func:`say` prints ONE line: every control/format character in it, newlines and tabs
  included, is shown as a visible escape (``\\x1b``, ``\\u202e``), so a value can not fake
  a second line either; fields are joined by ``sep``.
* :func:`install` wraps stdout and stderr so that anything else written (JSON, logging,
  argparse, tracebacks) is escaped the same way (newlines and tabs kept) and has URL
  credentials redacted (core.urls.redact_url).

Which characters count is core.text's one definition, shared with the app (static/dom.js).
This module is the CLI's only writer to the terminal.
"""

import sys

from ..core.text import escape
from ..core.urls import redact_urls_in


def clean(text, *, keep_lines: bool = False) -> str:
    """What may reach the terminal: escaped and without URL credentials."""
    return escape(redact_urls_in(str(text)), keep_lines=keep_lines)


def say(*fields, sep: str = " ", err: bool = False) -> None:
    """Print one line (to stderr with ``err``) made of ``fields``, each cleaned."""
    print(sep.join(clean(field) for field in fields), file=sys.stderr if err else sys.stdout)


def hand_over(text: str) -> None:
    """Print, on standard output only, a capability the user asked for (a send link, whose
    secret is its #fragment): escaped for the terminal but not redacted, since it is the
    answer. Nothing else may use this."""
    stream = sys.stdout.raw if isinstance(sys.stdout, SafeStream) else sys.stdout
    stream.write(escape(text) + "\n")
    stream.flush()


class SafeStream:
    """A text stream that cleans what is written to it (newlines and tabs kept)."""

    def __init__(self, raw):
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(clean(text, keep_lines=True))
        return len(text)

    def writelines(self, lines) -> None:
        for text in lines:
            self.write(text)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, ...: the raw stream's
        return getattr(self.raw, name)


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once)."""
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)


def raw_stderr():
    """The terminal itself, for the progress bar only (its \\r redraws are ours, its text is
    our label and numbers)."""
    return sys.stderr.raw if isinstance(sys.stderr, SafeStream) else sys.stderr


class _Bar:
    """A tqdm bar on stderr that takes a running total (``to(done)``) as well as steps;
    tqdm disables itself when stderr is not a terminal (disable=None)."""

    def __init__(self, total: int, label: str):
        from tqdm import tqdm
        self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                         file=raw_stderr(), disable=None, leave=False)
        self._done = 0

    def update(self, step: int) -> None:
        self._done += step
        self._bar.update(step)

    def to(self, done: int, _total=None) -> None:
        self.update(done - self._done)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()


def progress(total: int, label: str) -> _Bar:
    return _Bar(total, label)
