"""``derive_id`` is uuid5 in the Robson namespace over the '/'-joined parts: ids already stored
(positions, orders, fills derived from their causes) must come out the same forever."""

from __future__ import annotations

import pickle
import uuid

from hypothesis import given
from hypothesis import strategies as st
from robson_contracts import derive_id
from robson_contracts.base import ROBSON_NAMESPACE

PARTS = st.lists(st.one_of(st.text(), st.integers(), st.uuids(), st.decimals(allow_nan=False),
                           st.none()), max_size=6)


@given(PARTS)
def test_derive_id_is_uuid5_of_the_joined_parts(parts: list[object]) -> None:
    expected = uuid.uuid5(ROBSON_NAMESPACE, "/".join(str(p) for p in parts))
    got = derive_id(*parts)
    assert got == expected
    assert got.version == 5 and got.variant == uuid.RFC_4122
    assert (hash(got), str(got), got.is_safe) == (hash(expected), str(expected), expected.is_safe)
    assert pickle.loads(pickle.dumps(got)) == expected


def test_a_stored_id_never_changes() -> None:
    """Pinned when the first replay ids were stored."""
    assert derive_id("path-tick", "BTCUSDT", "5m", 1704067200000, 0) == uuid.UUID(
        "1450c798-829b-541c-aedc-f422cdde8a3c")
