"""Time as the gateway counts it, learned from its replies' ``Date`` header.

A share's expiry and a capability token's are checked by the gateway against ITS clock, so a
client resolves "in 5 minutes" and "is this still valid?" against the gateway's time, not the
device's (which may be minutes or days off). ``GatewayClock`` keeps one offset per client:
server time minus local time, measured at each reply. ``local_now`` is the one place the
clients read the device's clock (tests move it).

A hostile gateway must not be able to make a share never expire: the offset used for the
expiries a client writes or checks is clamped to ``MAX_OFFSET`` (and reported when it had to
be). Decisions only the gateway enforces anyway (when to renew its token) use the measured
offset as it is: lying there only makes that gateway refuse its own clients.
"""

import logging
import time
from email.utils import parsedate_to_datetime

log = logging.getLogger("meshkit.clock")

CLOCK_SKEW_ALLOWED = 120  # seconds: a signed capsule this far past its expiry by our clock still opens
# seconds: the most the gateway's clock may move the expiries a client computes or checks: a
# hostile gateway can stretch a share it releases by this much at most (it is the one that
# releases capsules anyway; the client's check is the second line), so it stays small
MAX_OFFSET = 900


def local_now() -> float:
    """The device's clock (the clients' one seam for it)."""
    return time.time()


def _header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


class GatewayClock:
    """The offset between a gateway's clock and this device's, from its latest reply."""

    def __init__(self):
        self.offset: float | None = None  # server minus local, seconds; None until a reply told it
        self._warned = False

    def observe(self, headers: dict, sent: float, received: float) -> None:
        """Learn the offset from one reply's ``Date`` (sent/received: local times around the
        exchange). A reply with ``Age`` came from a cache, whose Date is old: not used."""
        date = _header(headers, "date")
        if not date or _header(headers, "age") is not None:
            return
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return  # unparsable: nothing learned
        # Date has whole seconds (truncated): the server's time was within [server, server + 1)
        # somewhere between sent and received, so take both middles
        self.offset = server + 0.5 - (sent + received) / 2
        if self.beyond_tolerance() and not self._warned:
            self._warned = True
            log.warning("clock: %s", self.summary())

    def clamped_offset(self) -> float:
        return max(-MAX_OFFSET, min(MAX_OFFSET, self.offset or 0.0))

    def now(self) -> int:
        """The gateway's time as far as expiries go (clamped offset; local time until known)."""
        return int(local_now() + self.clamped_offset())

    def server_now(self) -> float:
        """The gateway's time as measured (no clamp): only for state the gateway itself enforces."""
        return local_now() + (self.offset or 0.0)

    def beyond_tolerance(self) -> bool:
        return self.offset is not None and abs(self.offset) > CLOCK_SKEW_ALLOWED

    def summary(self) -> str:
        """One line saying how far off this device's clock is, and which way."""
        if self.offset is None:
            return "not known yet (no reply from the gateway)"
        seconds = round(abs(self.offset))
        if not self.beyond_tolerance():
            return f"in step with the gateway's (within {CLOCK_SKEW_ALLOWED} s; off by {seconds} s)"
        way = "behind" if self.offset > 0 else "ahead of"
        text = f"this device's clock is {seconds} s {way} the gateway's: times are taken from the gateway"
        if abs(self.offset) > MAX_OFFSET:
            text += f" (only up to {MAX_OFFSET} s of that: fix this device's clock)"
        return text

    def report(self) -> dict:
        """For doctor and the app's diagnostics (public facts only)."""
        return {"known": self.offset is not None,
                "offset_s": None if self.offset is None else round(self.offset, 1),
                "device_clock": None if self.offset is None else "behind" if self.offset > 0 else "ahead",
                "tolerance_s": CLOCK_SKEW_ALLOWED, "beyond_tolerance": self.beyond_tolerance(),
                "clamped": self.offset is not None and abs(self.offset) > MAX_OFFSET,
                "summary": self.summary()}
