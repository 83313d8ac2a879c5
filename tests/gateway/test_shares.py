"""The re-share rules of gateway/shares.py, each called directly: no HTTP, no database.
Facts are plain rows (as the metadata store lists capsules) and a fixed "now"."""

from types import SimpleNamespace

import pytest

from meshkit_web.core.errors import (ExpiredError, ForbiddenError, NotARecipientError, OpensUsedUpError,
                                     RevokedError)
from meshkit_web.gateway import shares

from support.aio import run

NOW = 1_000_000
ROOT = "bafyroot"


def share(sharer: str, recipient: str, expires: int | None = None, policy: str | None = None,
          revoked: bool = False, opens_left: int | None = None) -> dict:
    return {"sharer": sharer, "recipient": recipient, "expires": expires, "policy": policy,
            "revoked": revoked, "opens_left": opens_left}


def header(sender: str, *recipients: str):
    return SimpleNamespace(sender_id=sender, recipients=[SimpleNamespace(recipient=r) for r in recipients])


def facts_from(holders: set[str], rows: list[dict], calls: list | None = None) -> shares.Facts:
    """shares.Facts over a fixed world: ``holders`` hold the key in the header; ``rows``
    are every share of the envelope (the route lists the live ones; dead ones are listed
    here too, so the rule itself must leave them out)."""
    async def facts(who: str):
        if calls is not None:
            calls.append(who)
        return None if who in holders else [row for row in rows if row["recipient"] == who]
    return facts


def may_share(identity: str, holders: set[str], rows: list[dict], now: float = NOW) -> bool:
    return run(shares.may_share(identity, facts_from(holders, rows), now))


# --- who holds the key, which shares are live, which may be shared on ---------------------

@pytest.mark.parametrize("ids, expected", [
    ({"alice"}, True),                          # the sender
    ({"bob"}, True),                            # a recipient in the header
    ({"dave", "acct.recovery"}, True),          # through what the caller answers for (its recovery key)
    ({"carol"}, False),                         # nobody in the header
    (set(), False),
])
def test_in_header(ids, expected):
    assert shares.in_header(header("alice", "bob", "acct.recovery"), ids) is expected


@pytest.mark.parametrize("row, live", [
    (share("a", "b"), True),                               # no expiry
    (share("a", "b", expires=NOW + 1), True),
    (share("a", "b", expires=NOW), False),                 # expiring exactly now: expired
    (share("a", "b", expires=NOW - 1), False),
    (share("a", "b", revoked=True), False),
    (share("a", "b", expires=NOW + 1, revoked=True), False),
])
def test_is_live(row, live):
    assert shares.is_live(row, NOW) is live


@pytest.mark.parametrize("row, source", [
    (share("a", "b"), True),
    (share("a", "b", expires=NOW + 1, policy="p"), True),
    (share("a", "b", opens_left=3), False),                # a send link: for its holder only
    (share("a", "b", opens_left=0), False),
    (share("a", "b", expires=NOW), False),
    (share("a", "b", revoked=True), False),
])
def test_is_source(row, source):
    assert shares.is_source(row, NOW) is source


# --- storing a share --------------------------------------------------------------------

def test_only_its_sharer_stores_a_capsule():
    shares.check_stored_by_sharer("alice", "alice")
    with pytest.raises(ForbiddenError):
        shares.check_stored_by_sharer("alice", "mallory")


def chain(length: int) -> list[dict]:
    """p0 (in the header) shares to p1, p1 to p2, ... up to p{length}."""
    return [share(f"p{i}", f"p{i + 1}") for i in range(length)]


@pytest.mark.parametrize("identity, holders, rows, allowed", [
    ("alice", {"alice"}, [], True),                                            # holds the key itself
    ("bob", {"alice"}, [share("alice", "bob")], True),                         # a share from a holder
    ("bob", {"alice"}, [share("alice", "bob", expires=NOW + 1)], True),
    ("bob", {"alice"}, [share("alice", "bob", expires=NOW)], False),           # its source expires now
    ("bob", {"alice"}, [share("alice", "bob", expires=NOW - 1)], False),       # ... or expired
    ("bob", {"alice"}, [share("alice", "bob", revoked=True)], False),          # ... or was revoked
    ("bob", {"alice"}, [share("alice", "bob", opens_left=5)], False),          # a send link is no source
    ("bob", {"alice"}, [share("mallory", "bob")], False),                      # a sharer who is not a recipient
    ("bob", {"alice"}, [share("mallory", "bob"), share("alice", "bob")], True),  # one good source is enough
    ("carol", {"alice"}, [share("alice", "bob"), share("bob", "carol")], True),  # a re-share of a share
    ("carol", {"alice"}, [share("alice", "bob", revoked=True), share("bob", "carol")], False),  # its source revoked
    ("carol", {"alice"}, [share("alice", "bob", expires=NOW), share("bob", "carol")], False),   # ... or expired
    ("p4", {"p0"}, chain(4), True),                                            # MAX_RESHARE_DEPTH steps back
    ("p5", {"p0"}, chain(5), False),                                           # one more: too far
    ("x", {"alice"}, [share("y", "x"), share("x", "y")], False),               # a loop ends
    ("nobody", {"alice"}, [], False),
])
def test_may_share(identity, holders, rows, allowed):
    assert shares.MAX_RESHARE_DEPTH == 4
    assert may_share(identity, holders, rows) is allowed


def test_may_share_looks_at_a_bounded_number_of_sharers():
    """Live decoys count against MAX_SHARERS_CHECKED; revoked ones crowd nothing out."""
    limit = shares.MAX_SHARERS_CHECKED
    decoys = [share(f"decoy{i}", "bob") for i in range(limit - 1)]
    assert may_share("bob", {"alice"}, decoys[:limit - 2] + [share("alice", "bob")])
    assert not may_share("bob", {"alice"}, decoys + [share("alice", "bob")])
    revoked = [share(f"decoy{i}", "bob", revoked=True) for i in range(10 * limit)]
    assert may_share("bob", {"alice"}, revoked + [share("alice", "bob")])
    calls: list[str] = []
    many = [share(f"d{i}", "bob") for i in range(10 * limit)] + [share(f"d{i}", f"d{i}") for i in range(10 * limit)]
    assert not run(shares.may_share("bob", facts_from({"alice"}, many, calls), NOW))
    assert len(calls) <= limit


def test_a_sharer_who_cannot_open_the_envelope_is_refused():
    shares.check_may_share(True, "bob", ROOT)
    with pytest.raises(NotARecipientError):
        shares.check_may_share(False, "mallory", ROOT)


@pytest.mark.parametrize("expires, policy, sources, allowed", [
    # an original share (the sharer holds the key): bound by nothing
    (None, None, None, True),
    (NOW + 10, "p", None, True),
    # a source without expiry or policy: anything within it
    (None, None, [share("a", "b")], True),
    (NOW + 10, "p", [share("a", "b")], True),
    # expiry: no later than the source's
    (NOW + 200, None, [share("a", "b", expires=NOW + 200)], True),   # the same instant
    (NOW + 199, None, [share("a", "b", expires=NOW + 200)], True),
    (NOW + 201, None, [share("a", "b", expires=NOW + 200)], False),  # outlives it
    (None, None, [share("a", "b", expires=NOW + 200)], False),       # never expires: outlives it
    # policy: carried over
    (None, "p", [share("a", "b", policy="p")], True),
    (None, None, [share("a", "b", policy="p")], False),              # dropped
    (None, "q", [share("a", "b", policy="p")], False),               # swapped
    (NOW + 5, "p", [share("a", "b", expires=NOW + 10, policy="p")], True),
    (NOW + 5, None, [share("a", "b", expires=NOW + 10, policy="p")], False),
    # the source must be live
    (NOW + 5, None, [share("a", "b", expires=NOW)], False),          # expires exactly now
    (NOW + 5, None, [share("a", "b", expires=NOW - 1)], False),
    (NOW + 5, None, [share("a", "b", revoked=True)], False),
    # no source at all (not a recipient of any share)
    (NOW + 5, None, [], False),
    # one fitting source of several is enough; a dead one that would fit is not
    (NOW + 150, None, [share("a", "b", expires=NOW + 100), share("c", "b", expires=NOW + 200)], True),
    (None, None, [share("a", "b", revoked=True), share("c", "b", expires=NOW + 200)], False),
    (None, "p", [share("a", "b", policy="q"), share("c", "b", policy="p")], True),
    # a send link (limited opens) is no source, even beside an expiring share it would outlive
    (None, None, [share("a", "b", opens_left=3)], False),
    (None, None, [share("a", "b", opens_left=3), share("c", "b", expires=NOW + 200)], False),
    (NOW + 100, None, [share("a", "b", opens_left=3), share("c", "b", expires=NOW + 200)], True),
])
def test_check_reshare(expires, policy, sources, allowed):
    if allowed:
        shares.check_reshare(expires, policy, sources, NOW)
    else:
        with pytest.raises(ForbiddenError):
            shares.check_reshare(expires, policy, sources, NOW)


# --- releasing and revoking -------------------------------------------------------------

@pytest.mark.parametrize("recipient, aliases, allowed", [
    ("bob", {"bob"}, True),
    ("acct.recovery", {"dave", "acct.recovery"}, True),   # a device of the account it was shared to
    ("bob", {"dave", "acct.recovery"}, False),
    ("bob", {"alice"}, False),                            # its sharer is not its recipient
    ("bob", {"mallory"}, False),
])
def test_released_only_to_its_recipient(recipient, aliases, allowed):
    row = share("alice", recipient)
    if allowed:
        shares.check_released_to(row, aliases)
    else:
        with pytest.raises(ForbiddenError):
            shares.check_released_to(row, aliases)


@pytest.mark.parametrize("identity, allowed", [("alice", True), ("bob", False), ("mallory", False)])
def test_only_its_sharer_revokes(identity, allowed):
    row = share("alice", "bob")
    if allowed:
        shares.check_revoked_by(row, identity)
    else:
        with pytest.raises(ForbiddenError):
            shares.check_revoked_by(row, identity)


@pytest.mark.parametrize("identity, own, allowed", [
    ("phone", {"phone", "alice", "recovery"}, True),   # another current device of alice's account
    ("mallory", {"mallory", "m-phone"}, False),         # a device of another account
    ("bob", {"bob"}, False),                            # the recipient
])
def test_a_device_of_the_sharers_account_revokes_too(identity, own, allowed):
    row = share("alice", "bob")
    if allowed:
        shares.check_revoked_by(row, identity, own)
    else:
        with pytest.raises(ForbiddenError):
            shares.check_revoked_by(row, identity, own)


@pytest.mark.parametrize("revoked, expires, now, error", [
    (False, None, NOW, None),
    (False, NOW + 1, NOW, None),
    (False, NOW, NOW - 0.5, None),         # half a second before its expiry
    (False, NOW, NOW, ExpiredError),       # exactly now: expired
    (False, NOW - 1, NOW, ExpiredError),
    (True, None, NOW, RevokedError),
    (True, NOW - 1, NOW, RevokedError),    # revoked and expired: revoked is said
])
def test_check_live(revoked, expires, now, error):
    if error is None:
        shares.check_live(revoked, expires, "bafyshare", ROOT, now)
    else:
        with pytest.raises(error):
            shares.check_live(revoked, expires, "bafyshare", ROOT, now)


def test_a_reshare_ends_with_the_share_it_came_through():
    """At release, the chain is checked again: alice -> bob -> carol is released to carol
    only while bob's share is live."""
    for source, live in [(share("alice", "bob"), True), (share("alice", "bob", revoked=True), False),
                         (share("alice", "bob", expires=NOW), False), (share("alice", "bob", opens_left=1), False)]:
        allowed = may_share("bob", {"alice"}, [source, share("bob", "carol")])
        assert allowed is live
        if live:
            shares.check_chain(allowed, "bafyshare", ROOT)
        else:
            with pytest.raises(RevokedError):
                shares.check_chain(allowed, "bafyshare", ROOT)


def test_opens_used_up():
    shares.check_open_taken(True, "bafyshare", ROOT)
    with pytest.raises(OpensUsedUpError):
        shares.check_open_taken(False, "bafyshare", ROOT)
