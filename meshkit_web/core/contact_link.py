"""Contact links (FORMAT.md 5.3): what one person sends another so they can share with her.

A short link carries only the identity id and its fingerprint, ``#contact=<id>.<fingerprint>``
(the fingerprint's 32 base32 characters, without dashes); the record itself comes from the
gateway's directory, and must carry that id and have that fingerprint, or it is refused:
a directory cannot substitute keys for a link someone sent. The older long form
(``#contact=<the record's JSON>``) is still read. Pure: no I/O.
"""

import json
import re
from typing import Awaitable, Callable
from urllib.parse import unquote

from .errors import IdentityMismatchError, InvalidArgumentError
from .identity import PublicIdentity
from .signing import is_identity_id
from .urls import app_link_value

PREFIX = "contact="
_FINGERPRINT = re.compile(r"^[A-Z2-7]{32}$")
MAX_LINK = 8192


def contact_fragment(public: PublicIdentity, account: str | None = None) -> str:
    """The URL fragment (without '#') of a short contact link; ``account``: the account the
    identity is a device of, so the person who adds it reaches the account (checked by its
    chain) whatever a gateway later says."""
    return f"{PREFIX}{public.id}.{public.fingerprint.replace('-', '')}" + (f".{account}" if account else "")


def _short_parts(text: str) -> tuple[str, str, str | None] | str:
    value = unquote(app_link_value(text, PREFIX, MAX_LINK, "contact"))
    if value.lstrip().startswith("{"):
        return value
    ident, _, rest = value.partition(".")
    fingerprint, _, account = rest.partition(".")
    fingerprint = fingerprint.replace("-", "").upper()
    if not is_identity_id(ident) or not _FINGERPRINT.match(fingerprint) or (account and not is_identity_id(account)):
        raise InvalidArgumentError("that contact link is damaged: check it was copied whole")
    return ident, "-".join(fingerprint[i:i + 4] for i in range(0, 32, 4)), account or None


def parse_contact_link(text: str) -> tuple[str, str] | str:
    """A link (or its fragment): (id, fingerprint with dashes) for a short one, or the
    record's JSON text for a long one. InvalidArgumentError for anything else."""
    parts = _short_parts(text)
    return parts if isinstance(parts, str) else parts[:2]


def linked_account(text: str) -> str | None:
    """The account a contact link says the identity is a device of (None: it says none). A
    claim to check (clients.accounts.contact_account), not a fact."""
    parts = _short_parts(text)
    if isinstance(parts, tuple):
        return parts[2]
    try:
        account = json.loads(parts).get("account")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested past Python's stack
        return None
    return account if isinstance(account, str) and is_identity_id(account) else None


def check_linked(public: PublicIdentity, ident: str, fingerprint: str) -> PublicIdentity:
    """The directory's record for a short link: its id and fingerprint must be the link's."""
    if public.id != ident or public.fingerprint != fingerprint:
        raise IdentityMismatchError("the directory's record does not match the contact link's fingerprint: "
                                    "ask your contact for their link again")
    return public


async def record_from_link(text: str, directory: Callable[[str], Awaitable[PublicIdentity]] | None) -> dict:
    """The public record (JSON form, 5.2, still to be verified by the caller) a contact link
    names: a short one's from ``directory`` (checked against the link), a long one's from
    the link itself."""
    linked = parse_contact_link(text)
    if isinstance(linked, tuple):
        if directory is None:
            raise InvalidArgumentError("a short contact link needs a gateway: its record is in the directory")
        return check_linked(await directory(linked[0]), *linked).to_json()
    try:
        return json.loads(linked)
    except (ValueError, RecursionError):  # RecursionError: JSON nested past Python's stack
        raise InvalidArgumentError("that contact link is damaged: check it was copied whole") from None
