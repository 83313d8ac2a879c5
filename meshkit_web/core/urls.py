"""Credentials out of URLs before they reach any message, log line or terminal.

A gateway URL may carry a password (``http://user:secret@host/``) or a token in its query
(``?token=...``), or a capability in its fragment. ``redact_url`` is the ONE rule: userinfo,
every query value and the whole fragment are replaced by ``***`` (which parameter names are
secret is not knowable, so no value is kept).
"""

import re
from urllib.parse import urlsplit

from .errors import InvalidArgumentError

HIDDEN = "***"
# a URL as it may appear inside free text: scheme://... up to whitespace or a quote
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>`]+")
# userinfo up to an '@' even across spaces and quotes (a password may hold them)
_USERINFO_IN_TEXT = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,30}://)[^@\n]{0,256}@")


def _hide_values(part: str) -> str:
    """Query items: names kept, every value (and any item without a name) hidden."""
    return "&".join(f"{item.partition('=')[0]}={HIDDEN}" if "=" in item else HIDDEN for item in part.split("&"))


def redact_url(url) -> str:
    """``url`` without credentials: userinfo and query/fragment values become ``***``.
    Everything between ``scheme://`` and the LAST ``@`` counts as userinfo, whatever it holds
    (a password pasted unencoded may contain ``/``, ``?`` or ``#``): over-redacting a path
    with an ``@`` in it is the safe mistake."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        text = f"{scheme}://{HIDDEN}@{rest.rpartition('@')[2]}"
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. a broken IPv6 literal: nothing of it is safe to show
        return "<invalid URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = HIDDEN + "@" + netloc.rpartition("@")[2]
    out = (parts.scheme + "://" if parts.scheme else "") + netloc + parts.path
    if parts.query:
        out += "?" + _hide_values(parts.query)
    if parts.fragment:  # a fragment never goes to a server, and may be a capability: all of it
        out += "#" + HIDDEN
    if not parts.netloc and "@" in text:  # "user:secret@host" without a scheme
        out = HIDDEN + "@" + text.rpartition("@")[2]
    return out


def redact_urls_in(text: str) -> str:
    """Every URL inside free text passed through :func:`redact_url`."""
    if "://" not in text:
        return text
    text = _USERINFO_IN_TEXT.sub(lambda m: m.group(1) + HIDDEN + "@", text)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def app_link_value(text, prefix: str, limit: int, kind: str) -> str:
    """What follows ``prefix`` (e.g. "contact=") in an app link's fragment, or the bare
    fragment; InvalidArgumentError when the text is too long or not that kind of link."""
    text = str(text).strip()
    if len(text) > limit:
        raise InvalidArgumentError(f"that {kind} link is far too long")
    fragment = text.split("#", 1)[1] if "#" in text else text
    if not fragment.startswith(prefix):
        raise InvalidArgumentError(f"not a MeshKit {kind} link (…#{prefix}…)")
    return fragment[len(prefix):]
