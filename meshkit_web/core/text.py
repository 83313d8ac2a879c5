"""The one definition of the characters that may not reach a person's screen as they are,
for the CLI (cli_output) and the app (build.py writes it into app/text.js for static/dom.js).

Names come from other people (a sender's file name, a contact's or a device's name): a bidi
override makes "invoice\u202efdp.exe" read as "invoiceexe.pdf", a zero-width character
makes two names look the same, a control character rewrites a terminal. So every control
(C0, DEL, C1), format (zero-width, bidi marks, embeddings, overrides and isolates,
invisible operators, BOM, tags, ...), line/paragraph separator and lone surrogate is shown
as a visible escape (``\\u202e``), the same way in Python and in the browser. Pure.
"""

import re

# (first, last) code points, inclusive: Unicode's Cc, Cf, Zl, Zp and Cs, plus U+2065 (kept
# with its neighbours 2060-206F, should it be assigned as one of them); 13430-1343F spans
# the hieroglyph format controls of Unicode 15. tests/test_text.py checks this covers every
# such character of the running Python's Unicode database.
UNSAFE_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F), (0xD800, 0xDFFF), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE007F),
)
LINE_ENDS = "\t\n"  # what multi-line output (JSON) keeps as it is
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _class(ranges) -> str:
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


UNSAFE = re.compile(f"[{_class(UNSAFE_RANGES)}]")
UNSAFE_BUT_LINES = re.compile(f"(?![{LINE_ENDS}])[{_class(UNSAFE_RANGES)}]")


def visible(char: str) -> str:
    """One unsafe character as the escape a person can see."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text, *, keep_lines: bool = False) -> str:
    """``text`` with every unsafe character as a visible escape (``keep_lines``: tabs and
    newlines stay, for multi-line output such as JSON)."""
    return (UNSAFE_BUT_LINES if keep_lines else UNSAFE).sub(lambda m: visible(m.group(0)), str(text))


def strip_unsafe(text) -> str:
    """``text`` without its unsafe characters (a file name to save under: nothing to show)."""
    return UNSAFE.sub("", str(text))


def unsafe_ranges_json() -> list[list[int]]:
    """The ranges for app/text.js (build.py)."""
    return [list(pair) for pair in UNSAFE_RANGES]
