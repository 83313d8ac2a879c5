"""Share expiry from user input: ONE rule for the CLI, the browser and HTTP callers.

- a duration, always with its unit: ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (from now);
- an absolute time: a Unix time in seconds (a number, or digits), or an ISO 8601
  date-time with a zone (``2027-01-31T12:00:00Z``).

A bare number is never a duration (``"3600"`` is 1970-01-01T01:00Z, so it is refused as
past): the result must lie in the future and within ``MAX_EXPIRY`` of now.
"""

import re
from datetime import datetime

from .errors import InvalidArgumentError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_EXPIRY = 10 * 366 * 86400  # ten years: anything later is almost surely a mistake
_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_UNIX = re.compile(r"[0-9]{1,12}")


def parse_expiry(value, now: int) -> int | None:
    """Unix seconds at which a share expires, or None for none; InvalidArgumentError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidArgumentError("expiry must be a duration (30m, 12h, 7d) or a time")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidArgumentError("expiry must be a finite time")
        when = int(value)
    elif isinstance(value, str):
        text = value.strip()
        duration = _DURATION.fullmatch(text)
        if duration:
            when = now + int(duration.group(1)) * UNITS[duration.group(2)]
        elif _UNIX.fullmatch(text):
            when = int(text)
        else:
            when = _iso(text)
    else:
        raise InvalidArgumentError("expiry must be a duration (30m, 12h, 7d) or a time")
    if when <= now:
        raise InvalidArgumentError(f"expiry {str(value)[:40]!r} is not in the future "
                                   "(durations need a unit: 3600s, 30m, 12h, 7d)")
    if when - now > MAX_EXPIRY:
        raise InvalidArgumentError(f"expiry {str(value)[:40]!r} is more than ten years away")
    return when


def parse_duration(value) -> int:
    """Seconds in a duration with its unit (``90s``, ``30m``, ``24h``, ``7d``, ``2w``: the
    rule of share expiries, e.g. for ``meshkit serve --gc-grace``); InvalidArgumentError
    otherwise (a bare number too: its unit would be a guess)."""
    duration = _DURATION.fullmatch(str(value).strip())
    if duration is None:
        raise InvalidArgumentError(f"{str(value)[:40]!r} is not a duration: a number with its unit "
                                   "(90s, 30m, 24h, 7d, 2w)")
    return int(duration.group(1)) * UNITS[duration.group(2)]


def _iso(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidArgumentError(f"expiry {text[:40]!r}: use 30m, 12h, 7d, a Unix time or "
                                   "an ISO 8601 time with a zone")
    return int(moment.timestamp())
