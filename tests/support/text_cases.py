"""Names and what a person must see of them: one list, checked against the CLI's escape()
(Python, core/text.py) and the app's shown() (static/names.js, in Chromium). Each input is
a list of code points (a lone surrogate cannot cross JSON otherwise)."""


def cps(text: str) -> list[int]:
    return [ord(c) for c in text]


CASES = [
    (cps("invoice\u202efdp.exe"), "invoice\\u202efdp.exe"),        # right-to-left override
    (cps("a\u2066b\u2069c"), "a\\u2066b\\u2069c"),                    # isolates
    (cps("a\u200fb\u200ec\u061cd"), "a\\u200fb\\u200ec\\u061cd"),    # marks
    (cps("zero\u200bwidth\u2060join"), "zero\\u200bwidth\\u2060join"),
    (cps("bom\ufeff shy\u00ad"), "bom\\ufeff shy\\xad"),
    (cps("esc\x1b[31mred\x07"), "esc\\x1b[31mred\\x07"),
    (cps("two\nlines\rand\ttab"), "two\\nlines\\rand\\ttab"),
    (cps("c1\x85\x9b"), "c1\\x85\\x9b"),
    (cps("line\u2028para\u2029"), "line\\u2028para\\u2029"),
    (cps("tag\U000e0041\U000e007f"), "tag\\U000e0041\\U000e007f"),
    (cps("arabic\u0600\u06dd"), "arabic\\u0600\\u06dd"),            # Cf beyond the bidi controls
    (cps("music\U0001d173"), "music\\U0001d173"),
    (cps("fam\U0001f468\u200d\U0001f469"), "fam\U0001f468\\u200d\U0001f469"),  # a ZWJ, shown too
    ([0x6C, 0xD800, 0x6F, 0xDFFF], "l\\ud800o\\udfff"),             # lone surrogates
    (cps("résumé 名前 Ωmega 🎉.pdf"), "résumé 名前 Ωmega 🎉.pdf"),      # ordinary text untouched
    (cps(""), ""),
]
