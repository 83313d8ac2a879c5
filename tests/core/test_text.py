"""core/text.py: the one definition of the characters no name may show as they are, the
same for the CLI and the app (sdk/text.js, its table generated from it by build.py)."""

import sys
import unicodedata

from meshkit_web.cli.output import clean
from meshkit_web.core.text import UNSAFE_RANGES, escape, strip_unsafe

from support.browser import ready
from support.text_cases import CASES


def text(code_points: list[int]) -> str:
    return "".join(chr(c) for c in code_points)


def test_every_control_format_and_separator_character_is_covered():
    covered = {c for a, b in UNSAFE_RANGES for c in range(a, b + 1)}
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            assert code in covered, f"U+{code:04X} ({unicodedata.category(chr(code))}) is not in UNSAFE_RANGES"


def test_the_cases_in_python():
    for source, expected in CASES:
        assert escape(text(source)) == expected, source
        assert clean(text(source)) == expected  # what the CLI prints
        assert not any(c in strip_unsafe(text(source)) for c in "\u202e\u200b\x1b\n")


def test_the_same_cases_in_the_browser(page):
    ready(page)
    got = page.evaluate("""async (cases) => {
      // the package's public helpers (meshkit.js), which the app and the worker use
      const base = new URL("../", document.querySelector('script[data-meshkit="app"]').src);
      const { shown, saveName } = await import(new URL("meshkit.js", base).href);
      return cases.map(([points]) => [shown(String.fromCodePoint(...points)), saveName(String.fromCodePoint(...points))]);
    }""", [list(case) for case in CASES])
    for (source, expected), (shown, saved) in zip(CASES, got):
        assert shown == expected, (source, shown)
        assert saved == strip_unsafe(text(source)).strip() or saved == "download", (source, saved)
