"""The rules of shares (capsules), as plain functions: who may store a share, which shares
one may share on, how far a re-share may go, and when a share is released or revoked.

No HTTP and no database here: routes/capsules.py fetches the facts (capsule rows as the
metadata store lists them: ``sharer``, ``recipient``, ``expires``, ``policy``,
``revoked``, ``opens_left``; an envelope's header; the ids a caller answers for) and the
current time, and each rule answers or raises its typed error (core/errors.py). What must
be one atomic step with the data (a revocation racing a release, counting an open) stays
in the store; the rules here decide on what it answered."""

from typing import Awaitable, Callable

from ..core.errors import (ExpiredError, ForbiddenError, NotARecipientError, OpensUsedUpError,
                           RevokedError)

MAX_RESHARE_DEPTH = 4  # a share of a share of ... : how far back the chain is followed
MAX_SHARERS_CHECKED = 32  # distinct sharers looked at in all, per check
from ..core.send_link import MAX_OPENS  # noqa: F401 - the limit's one home (routes/capsules.py reads it here)

# the facts of one identity: None when it holds the envelope's key itself (in_header),
# else the shares of the envelope to it (rows)
Facts = Callable[[str], Awaitable["list[dict] | None"]]


def in_header(header, ids: set[str]) -> bool:
    """Whether one of ``ids`` (an identity and what it answers for) sealed the envelope or
    is a recipient in its header: holds its key without any share."""
    return header.sender_id in ids or any(e.recipient in ids for e in header.recipients)


def is_live(row: dict, now: float) -> bool:
    """A stored share neither revoked nor expired (a share expiring at ``now`` is not)."""
    return not row["revoked"] and (row["expires"] is None or row["expires"] > now)


def is_source(row: dict, now: float) -> bool:
    """A share its recipient may share on: live, and without a limit on its opens. A share
    limited in its opens (a send link) is for its holder only: sharing on would be a share
    without the limit."""
    return is_live(row, now) and row["opens_left"] is None


def check_stored_by_sharer(sharer_id: str, identity: str) -> None:
    """A capsule is stored by the identity that signed it as its sharer, nobody else."""
    if sharer_id != identity:
        raise ForbiddenError("a capsule can only be stored by its sharer")


async def may_share(identity: str, facts: Facts, now: float) -> bool:
    """Whether ``identity`` can open the envelope itself: its sender, a recipient in its
    header, or the recipient of a share of it (``is_source``; as itself or its account's
    recovery key) whose sharer still may, and so on back to the header. Nobody else can
    make a capsule that opens it, so nobody else may store one (a bogus capsule would
    shadow real ones). Checked again at every release, so a revoked or expired share also
    closes every re-share made through it (a re-wrap to one's own new device included).

    A breadth-first search over distinct sharers, at most MAX_RESHARE_DEPTH steps back and
    MAX_SHARERS_CHECKED sharers in all: bounded work whatever capsules others store (only
    live ones count, so revoked decoys crowd nothing out). ``facts(who)`` is awaited once
    per sharer looked at."""
    frontier, seen = [identity], {identity}
    for _ in range(MAX_RESHARE_DEPTH + 1):
        step = []
        for who in frontier:
            shares = await facts(who)
            if shares is None:
                return True
            for row in shares:
                sharer = row["sharer"]
                if is_source(row, now) and sharer not in seen:
                    if len(seen) >= MAX_SHARERS_CHECKED:
                        return False
                    seen.add(sharer)
                    step.append(sharer)
        frontier = step
        if not frontier:
            return False
    return False


def check_may_share(allowed: bool, identity: str, root: str) -> None:
    """The answer of ``may_share`` for a capsule being stored: NotARecipientError if not."""
    if not allowed:
        raise NotARecipientError(f"{identity} cannot open {root}, so cannot share it")


def check_reshare(expires: int | None, policy: str | None, sources: "list[dict] | None", now: float) -> None:
    """A re-share may not outlive or escape the share it came through: an expiry no later
    (none only under a source without one), and the same policy (any under a source
    without one), as one of the sharer's live shares of the envelope (``sources``; None:
    the sharer holds the key itself, an original share, bound by nothing). Else
    ForbiddenError."""
    if sources is None:
        return
    for source in sources:
        if not is_source(source, now):  # a send link is for its holder only: no re-share rides on it
            continue
        within = source["expires"] is None or (expires is not None and expires <= source["expires"])
        if within and (not source["policy"] or policy == source["policy"]):
            return
    raise ForbiddenError("a re-share must expire no later than, and carry the policy of, the share it came through")


def check_released_to(row: dict, aliases: set[str]) -> None:
    """A share is released only to its recipient (the caller, or its account's recovery key)."""
    if row["recipient"] not in aliases:
        raise ForbiddenError("a capsule is released only to its recipient")


def check_revoked_by(row: dict, identity: str, own_devices: set[str] = frozenset()) -> None:
    """Only a share's sharer revokes it, or another current device of the sharer's account
    (``own_devices``: the caller's; deleting a file on one device ends the links made on another)."""
    if row["sharer"] != identity and row["sharer"] not in own_devices:
        raise ForbiddenError("only the sharer can revoke a capsule")


def check_live(revoked: bool, expires: int | None, name: str, root: str, now: float) -> None:
    """A share is released only while not revoked and not expired (expiring at ``now``: expired)."""
    if revoked:
        raise RevokedError(f"the share {name} of {root} was revoked")
    if expires is not None and now >= expires:
        raise ExpiredError(f"the share {name} of {root} expired")


def check_chain(sharer_may_share: bool, name: str, root: str) -> None:
    """A share is released only while its sharer still may share (``may_share``): a re-share
    ends with the share it came through."""
    if not sharer_may_share:
        raise RevokedError(f"the share {name} of {root} came through a share that was revoked or expired")


def check_open_taken(taken: bool, name: str, root: str) -> None:
    """A share limited in its opens is released only while one is left (the store takes it
    atomically; ``taken`` is its answer)."""
    if not taken:
        raise OpensUsedUpError(f"the share {name} of {root} was opened as often as its sharer allowed")
