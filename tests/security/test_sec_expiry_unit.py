"""core.expiry: the one expiry rule (durations need a unit; results in the future)."""

import pytest

from meshkit_web.core.errors import InvalidArgumentError
from meshkit_web.core.expiry import MAX_EXPIRY, parse_expiry

NOW = 1_800_000_000


@pytest.mark.parametrize("value, expected", [
    ("90s", NOW + 90), ("30m", NOW + 1800), ("1h", NOW + 3600), (" 12h ", NOW + 12 * 3600), ("7d", NOW + 7 * 86400),
    ("2w", NOW + 14 * 86400), (NOW + 5, NOW + 5), (float(NOW + 5), NOW + 5), (str(NOW + 60), NOW + 60),
    ("2027-01-31T12:00:00Z", 1801396800), ("2027-01-31T13:00:00+01:00", 1801396800), (None, None), ("", None),
])
def test_accepted(value, expected):
    assert parse_expiry(value, NOW) == expected


@pytest.mark.parametrize("value", [
    "3600", 3600, "60", 0, "0s", NOW, str(NOW), -5, "-5m", "1H", "1 h", "h", "1.5h", "1y", "7days",
    "2027-01-31T12:00:00", "2020-01-01T00:00:00Z", float("nan"), float("inf"), True, [1], {"a": 1},
    NOW + MAX_EXPIRY + 1, "9999999999999", "1e9", "0x10", "٣٦٠٠s",
])
def test_refused(value):
    with pytest.raises(InvalidArgumentError) as info:
        parse_expiry(value, NOW)
    assert info.value.code == "invalid_argument"


def test_a_bare_number_is_never_a_duration():
    with pytest.raises(InvalidArgumentError, match="not in the future.*need a unit"):
        parse_expiry("3600", NOW)
