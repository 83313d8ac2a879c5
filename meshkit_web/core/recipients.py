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
4. A person with an account is reached through it (``resolve_reach``): when the string is
   an account's id, or means an identity that is a device the account certified (current
   or since removed), a seal or share goes to the account's CURRENT devices and its
   recovery key, from the account record verified through its chain (FORMAT.md 11.6). So
   a removed device never receives anything new, and a new device receives everything new.
"""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Reach:
    """Whom a seal or share to one recipient string reaches."""
    id: str                  # the identity's id, or the account's
    name: str
    fingerprint: str
    identities: tuple        # the PublicIdentity records to wrap the content key to
    account: bool = False
    ever: tuple = ()         # every id a share to it may have gone to (revocation covers all)


async def resolve_reach(who: str, *, own: Iterable[PublicIdentity], contacts: Iterable[PublicIdentity],
                        directory: Callable[[str], Awaitable[PublicIdentity]] | None = None,
                        account: Callable[[str], Awaitable[object]] | None = None) -> Reach:
    """Rules 1-4. ``account(ident)``: the account ``ident`` is or belongs to, verified
    (a core.account.KnownAccount), None for a plain identity, an error for a bad chain."""
    own, contacts = list(own), list(contacts)
    found = resolve_local(who, own=own, contacts=contacts)
    asked = False
    if found is None and account is not None:  # an id not known here: perhaps an account's
        record, asked = await account(who), True
        if record is not None:
            return _account_reach(record)
    if found is None:
        found = await resolve_recipient(who, own=own, contacts=contacts, directory=directory)
    record = await account(found.id) if account is not None and not asked else None
    if record is not None:
        return _account_reach(record)
    return Reach(found.id, found.name, found.fingerprint, (found,), ever=(found.id,))


def _account_reach(kept) -> Reach:
    record = kept.record
    recipients = tuple(record.recipients())
    return Reach(record.id, record.name, record.fingerprint, recipients, account=True,
                 ever=tuple(sorted(set(kept.certified) | {r.id for r in recipients})))


def check_suite(public: PublicIdentity, seen_pq_key: bytes | None) -> PublicIdentity:
    """Downgrade protection (issue 26): once this client verified a record of an id listing
    an X-Wing key (``seen_pq_key``: a contact's, or a directory answer kept), a record of that
    id served later must list the same key; one without it (an older classic record of the
    same identity, say) or with another one is refused, so nothing is sealed classic to a
    hybrid recipient on a gateway's say-so. Device keys in an account are covered by the
    account chain (never rolled back; a certificate's X-Wing key is in its device's consent)."""
    if seen_pq_key is not None and public.pq_key != seen_pq_key:
        said = "lists another post-quantum key" if public.pq_key else "lacks the post-quantum key"
        raise IdentityMismatchError(f"this record of {public.id} {said} it listed before: refusing it "
                                    "(a gateway may be downgrading it)")
    return public


def distinct(identities: Iterable[PublicIdentity]) -> list[PublicIdentity]:
    """Each recipient once (an envelope's recipients are distinct), in first-seen order."""
    seen, out = set(), []
    for public in identities:
        if public.id not in seen:
            seen.add(public.id)
            out.append(public)
    return out
