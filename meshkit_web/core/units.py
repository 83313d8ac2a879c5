"""Sizes in words: ONE rule for what people read (quota refusals, listings, the usage meter)
and what operators type (``meshkit serve --storage-quota 5GiB``).

``human_bytes`` says a size in decimal units, as file managers show it (1 MB = 1,000,000
bytes): "800 MB", "1.2 GB", "512 bytes". ``parse_size`` reads one: a whole number of bytes,
or a number with a decimal (KB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB) unit.
"""

import re

from .errors import InvalidArgumentError

_DECIMAL = ("KB", "MB", "GB", "TB", "PB")
SIZE_UNITS = {"B": 1, **{u: 1000 ** (i + 1) for i, u in enumerate(_DECIMAL[:4])},
              **{u: 1024 ** (i + 1) for i, u in enumerate(("KiB", "MiB", "GiB", "TiB"))}}
_UNIT_BY_LOWER = {u.lower(): u for u in SIZE_UNITS}
_SIZE = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([A-Za-z]{0,3})")
MAX_SIZE = 1 << 60  # far past any disk: a typo, not a quota


def human_bytes(n: int) -> str:
    """``n`` bytes in words: "512 bytes", "4.1 KB", "800 MB", "1.2 GB" (one decimal at most,
    none when it is .0); "an unknown size" for what is no whole number (a hostile gateway's
    row, a missing field): shown, never raised."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != n or n in (float("inf"), float("-inf")):
        return "an unknown size"
    n = int(n)
    if abs(n) < 1000:
        return f"{n} byte" if abs(n) == 1 else f"{n} bytes"
    value, unit = float(n), "bytes"
    for unit in _DECIMAL:
        value /= 1000
        if abs(round(value, 1)) < 1000:
            break
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + " " + unit


def parse_size(text) -> int:
    """Bytes from "5GiB", "500 MB", "1.5GB", "1048576": InvalidArgumentError for anything else
    (a negative size, an unknown unit, a fraction of a byte rounds down)."""
    match = _SIZE.fullmatch(str(text).strip())
    unit = None
    if match:
        unit = _UNIT_BY_LOWER.get(match.group(2).lower()) if match.group(2) else "B"
    if unit is None:
        raise InvalidArgumentError(f"{str(text)[:40]!r} is not a size: a number of bytes, or with a unit "
                                   f"({', '.join(SIZE_UNITS)}), e.g. 5GiB or 500MB")
    whole, _, fraction = match.group(1).partition(".")
    size = int(whole) * SIZE_UNITS[unit] + (int(fraction) * SIZE_UNITS[unit] // 10 ** len(fraction) if fraction else 0)
    if size > MAX_SIZE:
        raise InvalidArgumentError(f"{str(text)[:40]!r} is too large a size")
    return size
