"""Who a recipient string means: ONE rule for the CLI, the browser and any other runtime.

Names in public records are free text chosen by the record's owner, so a name must never
stand for an id. The rule:

1. A string that looks like an id (``mk`` + 32 base32 characters, see ``core.signing.ID_PATTERN``) is
   an id and nothing else: it means the record whose id is exactly that, from my own
   identities or contacts, or else from the directory (whose answer must carry that id).
   No name is ever compared with it.
2. Any other string is a name: my own identities' names first (names I chose), then
   contacts' names; more than one contact with that name is an error ("use the id").
3. A record whose name looks like an id is refused when it is read (core.identity), so no
   contact can pose as another id in a list either.
"""

from typing import Awaitable, Callable, Iterable

from .errors import IdentityMismatchError, InvalidArgumentError, UnknownIdentityError
from .identity import PublicIdentity
from .signing import ID_PATTERN, is_identity_id, looks_like_id  # noqa: F401 - ID_PATTERN re-exported


def resolve_local(who: str, *, own: Iterable[PublicIdentity], contacts: Iterable[PublicIdentity]) -> PublicIdentity | None:
    """The local record ``who`` means; None for an id not known here (ask the directory)."""
    if not isinstance(who, str) or not who:
        raise InvalidArgumentError("a recipient is an identity id or a name")
    own, contacts = list(own), list(contacts)
    if is_identity_id(who):
        return next((p for p in own + contacts if p.id == who), None)
    if looks_like_id(who):
        raise InvalidArgumentError(f"{who.strip()[:40]!r} looks like an id but is not one exactly (ids are lower case)")
    mine = [p for p in own if p.name == who]
    if mine:
        return mine[0]
    named = {p.id: p for p in contacts if p.name == who}
    if len(named) > 1:
        raise InvalidArgumentError(f"several contacts are named {who[:64]!r}: use the id")
    if named:
        return next(iter(named.values()))
    raise UnknownIdentityError(f"no identity or contact named {who[:64]!r}")


async def resolve_recipient(who: str, *, own: Iterable[PublicIdentity], contacts: Iterable[PublicIdentity],
                            directory: Callable[[str], Awaitable[PublicIdentity]] | None = None) -> PublicIdentity:
    """``resolve_local``, then the directory for an id not known here (offline: unknown)."""
    found = resolve_local(who, own=own, contacts=contacts)
    if found is not None:
        return found
    if directory is None:
        raise UnknownIdentityError(f"identity {who} is not a contact here")
    public = await directory(who)
    if public.id != who:  # a directory that answers with another record is lying
        raise IdentityMismatchError(f"the directory answered {public.id} for {who}")
    return public
