"""Crash points for the fault-injection tests (tests/test_gateway_durability.py).

``MESHKIT_CRASH_AT=<point>`` in a gateway's environment makes that process SIGKILL itself
the first time it reaches ``point``, as an OOM kill or a power cut would at that instant.
Unset (always, outside those tests), ``reach`` does nothing. The points:

    blocks-stored   a put's bytes are durable, not yet charged
    blocks-charged  a put's bytes are stored and charged, the 201 not yet sent
    pin-recorded    a pin is recorded and charged, the provider's pin not yet made
"""

import os
import signal

POINTS = ("blocks-stored", "blocks-charged", "pin-recorded")
_CRASH_AT = os.environ.get("MESHKIT_CRASH_AT")


def reach(point: str) -> None:
    if _CRASH_AT == point:
        os.kill(os.getpid(), signal.SIGKILL)
