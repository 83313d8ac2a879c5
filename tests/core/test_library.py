"""The library's merge (core/library.py): a set with tombstones, so concurrent edits on two
devices both survive and retrying a lost compare-and-swap is harmless."""

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit_web.core.library import Library, library_from_bytes, merge

KEYS = st.sampled_from([f"envelope:bafy{i}" for i in range(6)] + ["contact:mkx", "share:bafyc"])
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers(0, 20), st.integers(0, 3)), max_size=12)


def build(ops) -> Library:
    library = Library("mkacct")
    for put, key, when, value in ops:
        if put:
            library.put(key, {"name": f"v{value}"}, when)
        else:
            library.remove(key, when)
    return library


def same(a: Library, b: Library) -> bool:
    return a.to_bytes() == b.to_bytes()


@settings(max_examples=300, deadline=None)
@given(OPS, OPS, OPS)
def test_merge_is_commutative_associative_and_idempotent(x, y, z):
    a, b, c = build(x), build(y), build(z)
    assert same(merge(a, b), merge(b, a))
    assert same(merge(merge(a, b), c), merge(a, merge(b, c)))
    assert same(merge(a, a), merge(a, Library("mkacct"))) and same(merge(merge(a, b), b), merge(a, b))
    assert same(library_from_bytes(merge(a, b).to_bytes(), "mkacct"), merge(a, b))


def test_concurrent_edits_on_two_devices_both_survive():
    base = Library("mkacct")
    base.put("envelope:bafy1", {"name": "report.pdf"}, 10)
    laptop, phone = library_from_bytes(base.to_bytes(), "mkacct"), library_from_bytes(base.to_bytes(), "mkacct")
    laptop.put("envelope:bafy2", {"name": "photo.jpg"}, 20)
    phone.remove("envelope:bafy1", 21)
    phone.put("contact:mkbob", {"fingerprint": "ABCD"}, 22)
    merged = merge(laptop, phone)
    assert merged.items("envelope") == {"bafy2": {"name": "photo.jpg"}}
    assert merged.items("contact") == {"mkbob": {"fingerprint": "ABCD"}}
    # an older write never resurrects a removal
    stale = library_from_bytes(base.to_bytes(), "mkacct")
    assert "bafy1" not in merge(merged, stale).items("envelope")
