"""core.recipients: ids are exact, names never stand for ids, own names before contacts'."""

import pytest

from meshkit_web.core.errors import IdentityMismatchError, InvalidArgumentError, UnknownIdentityError
from meshkit_web.core.identity import PublicIdentity
from meshkit_web.core.recipients import resolve_local, resolve_recipient
from meshkit_web.core.signing import is_identity_id

from support.aio import run


def person(n: int, name: str) -> PublicIdentity:
    """A record as resolution sees it (resolution never looks at keys): built directly, so
    the tests also cover names the record rule would refuse (defence in depth)."""
    ident = "mk" + ("abcdefghijklmnopqrstuvwxyz234567"[n:] + "abcdefghijklmnopqrstuvwxyz234567"[:n])
    assert is_identity_id(ident)
    return PublicIdentity(ident, name, bytes(32), bytes(32), 0, bytes(64))


ME, BOB, MALLORY, OTHER = person(0, "me"), person(1, "bob"), person(2, "mallory"), person(3, "other")


def test_an_id_means_exactly_that_id():
    posing = PublicIdentity(MALLORY.id, OTHER.id, bytes(32), bytes(32), 0, bytes(64))  # named with OTHER's id
    assert resolve_local(BOB.id, own=[ME], contacts=[posing, BOB]) is BOB
    # an id known nowhere here is for the directory: a contact named with it does not capture it
    assert resolve_local(OTHER.id, own=[ME], contacts=[posing]) is None
    assert resolve_local(MALLORY.id, own=[ME], contacts=[posing]) is posing


@pytest.mark.parametrize("variant", [str.upper, lambda s: " " + s, lambda s: s + "\n", lambda s: s[:2].upper() + s[2:]])
def test_an_almost_id_is_refused_not_matched_by_name(variant):
    who = variant(OTHER.id)
    posing = PublicIdentity(MALLORY.id, who, bytes(32), bytes(32), 0, bytes(64))
    with pytest.raises(InvalidArgumentError):
        resolve_local(who, own=[ME], contacts=[posing])


def test_own_names_come_before_contacts_names():
    shadow = PublicIdentity(MALLORY.id, "me", bytes(32), bytes(32), 0, bytes(64))
    assert resolve_local("me", own=[ME], contacts=[shadow]) is ME
    assert resolve_local("me", own=[ME], contacts=[shadow, shadow]) is ME


def test_two_contacts_with_one_name_are_ambiguous():
    twin = PublicIdentity(MALLORY.id, "bob", bytes(32), bytes(32), 0, bytes(64))
    for order in ([BOB, twin], [twin, BOB]):
        with pytest.raises(InvalidArgumentError, match="use the id"):
            resolve_local("bob", own=[ME], contacts=order)
    assert resolve_local("bob", own=[ME], contacts=[BOB, BOB]) is BOB  # one contact seen twice is one


@pytest.mark.parametrize("who", ["", None, 5, ["bob"]])
def test_non_strings_are_refused(who):
    with pytest.raises(InvalidArgumentError):
        resolve_local(who, own=[ME], contacts=[BOB])


def test_unknown_name_is_unknown_and_never_goes_to_the_directory():
    asked = []

    async def directory(ident):
        asked.append(ident)
        return BOB
    with pytest.raises(UnknownIdentityError):
        run(resolve_recipient("nobody", own=[ME], contacts=[BOB], directory=directory))
    assert asked == []


def test_directory_must_answer_with_the_id_asked_for():
    async def lying(ident):
        return MALLORY
    with pytest.raises(IdentityMismatchError):
        run(resolve_recipient(OTHER.id, own=[ME], contacts=[], directory=lying))

    async def honest(ident):
        return OTHER
    assert run(resolve_recipient(OTHER.id, own=[ME], contacts=[], directory=honest)) is OTHER
    with pytest.raises(UnknownIdentityError):  # offline: an unknown id is unknown
        run(resolve_recipient(OTHER.id, own=[ME], contacts=[]))


@pytest.mark.parametrize("disguise", [
    lambda i: i[:10] + "\u200b" + i[10:],          # zero-width space inside
    lambda i: "\u2060" + i,                         # word joiner in front
    lambda i: "\ufeff" + i,                         # byte-order mark in front
    lambda i: i.replace("k", "\u043a", 1),          # Cyrillic ka for k
    lambda i: "\uff4d" + i[1:],                     # fullwidth m
    lambda i: i.upper(),
    lambda i: "Bob " + i,                           # an id inside a longer name
], ids=["zero-width", "word-joiner", "bom", "cyrillic", "fullwidth", "upper", "embedded"])
def test_names_that_read_as_an_id_are_refused_however_disguised(backend, disguise):
    """Review finding: invisible and look-alike characters got an id-like name past the rule."""
    from meshkit_web.core.errors import EnvelopeFormatError
    from meshkit_web.core.identity import create_identity, record_from_json

    async def go():
        victim = await create_identity(backend, "victim", 1_790_000_000)
        name = disguise(victim.id)
        with pytest.raises(ValueError):
            await create_identity(backend, name, 1_790_000_000)
        forged = await create_identity(backend, "x", 1_790_000_000)
        record = {**forged.public.to_json(), "name": name}
        with pytest.raises(EnvelopeFormatError):
            await record_from_json(backend, record)  # refused before its signature is even checked
    run(go())
