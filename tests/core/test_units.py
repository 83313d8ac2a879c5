"""Sizes in words (core.units): what people read in quota refusals and listings, in decimal
units as file managers show them, and what operators type for `meshkit serve`'s quotas; and
durations for `--gc-grace` (core.expiry's rule, a unit always)."""

import pytest

from meshkit_web.core.errors import InvalidArgumentError
from meshkit_web.core.expiry import parse_duration
from meshkit_web.core.units import human_bytes, parse_size


@pytest.mark.parametrize("size, said", [
    (0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1000, "1 KB"), (4096, "4.1 KB"),
    (800_000_000, "800 MB"), (1_200_000_000, "1.2 GB"), (1 << 30, "1.1 GB"), (209_727_490, "209.7 MB"),
    (999_960_000, "1 GB"), (5 * 10 ** 12, "5 TB"),
])
def test_sizes_are_said_in_decimal_units(size, said):
    assert human_bytes(size) == said


@pytest.mark.parametrize("text, size", [
    ("5GiB", 5 << 30), ("500 MB", 500_000_000), ("1.5GB", 1_500_000_000), ("1048576", 1 << 20),
    ("2tib", 2 << 40), ("1kb", 1000), ("64 KiB", 64 << 10), ("0", 0), ("10B", 10),
])
def test_sizes_are_read_with_decimal_and_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["-1", "5 GX", "", "GB", "1e9", "5 G B", "99999999999999 TB"])
def test_what_is_not_a_size_is_refused(text):
    with pytest.raises(InvalidArgumentError):
        parse_size(text)


def test_durations_need_their_unit():
    assert [parse_duration(t) for t in ("24h", "30m", "7d", "90s", "2w")] == [86400, 1800, 604800, 90, 1209600]
    for bad in ("3600", "1 day", "", "-5m", "5y"):
        with pytest.raises(InvalidArgumentError):
            parse_duration(bad)


def test_a_size_that_is_no_number_is_said_never_raised():
    from meshkit_web.core.units import human_bytes
    for hostile in ("12", None, [], {}, float("nan"), float("inf"), True, "\x1b[31mred"):
        assert human_bytes(hostile) == "an unknown size"
