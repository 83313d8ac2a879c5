"""What a support bundle may hold, for the CLI's ``meshkit doctor`` and the app's "Copy
diagnostics": one redaction rule and one recent-log buffer, so both say the same and
neither can leak what the other would not.

Bundles are built from public facts only (versions, capability reports, public ids, job
states and error codes); ``redacted`` is the second line: every string passes through the
URL redactor (credentials, query values, fragments) and loses anything shaped like a
bearer token (a JWT). File names are private metadata: a bundle never lists them."""

import collections
import logging
import re

from .urls import HIDDEN, redact_urls_in

RECENT_LOG_LINES = 200        # the log a bundle carries: the last lines, each cut short
RECENT_LOG_LINE_CHARS = 300
# a JWT, in any text; matched only where a base64url run starts, so hostile text cannot make
# the search quadratic (every "eyJ" inside one long run would start a rescan)
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
MAX_TEXT = 64 << 10  # a longer string is cut before it is searched (and marked so)
# 40+ base64url characters in mixed case: a key, a capability or a content key. Public ids
# ("mk" + base32) and CIDs (base32) are lower case, so they stay readable.
_LONG_SECRET = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{40,}")


def redact_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + " [cut]"
    text = redact_urls_in(text)
    text = _TOKEN.sub(HIDDEN, text)
    return _LONG_SECRET.sub(HIDDEN, text)


def redacted(value):
    """A bundle with every string (keys included) passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(str(k)): redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v) for v in value]
    return value


class RecentLog(logging.Handler):
    """The last RECENT_LOG_LINES records of the ``meshkit`` loggers, redacted as they come."""

    def __init__(self, lines: int = RECENT_LOG_LINES):
        super().__init__(logging.INFO)
        self.lines = collections.deque(maxlen=lines)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not break the caller
            text = str(record.msg)
        self.lines.append(f"{record.levelname} {record.name}: {redact_text(text)[:RECENT_LOG_LINE_CHARS]}")

    @classmethod
    def install(cls, logger_name: str = "meshkit") -> "RecentLog":
        """Attach one buffer to the logger (again: the same one) and let INFO through to it."""
        logger = logging.getLogger(logger_name)
        for handler in logger.handlers:
            if isinstance(handler, cls):
                return handler
        handler = cls()
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        return handler
