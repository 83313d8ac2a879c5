"""Values the whole suite shares, each defined once here."""

import pathlib

from meshkit_web import testing

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the checkout
TESTS = ROOT / "tests"  # tests/vectors, tests/js, tests/ipfs, tests/helia, tests/types are read from here
NOW = 1_790_000_000  # the clock of the CPython tests that set one

# Playwright (Chromium), in ms
BOOT_TIMEOUT = int(testing.BOOT_TIMEOUT * 1000)  # a page's boot: the public fixtures' bound, in ms
CALL_TIMEOUT_MS = 300_000  # one call never waits longer (Playwright's evaluate would wait for ever)

# The other engines (support/engines.py), in s
ENGINE_START_TIMEOUT = 90  # the engine launched and its driver answering
ENGINE_CALL_TIMEOUT = 120  # one call, by default (the page's own bound)
ENGINE_NAV_TIMEOUT = 60  # a navigation (load event)
ENGINE_READY_TIMEOUT = 120  # from load to dataset.meshkitReady
