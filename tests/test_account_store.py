"""account_store keeps what the account said: whatever is saved loads back the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminderd import account_store as store
from reminderd.account_shapes import PrepaidPart, UsagePart
from reminderd.facts import ClaimableCredit, GrantedCredit, Money

zones = st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))])
instants = st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=zones)  # noqa: DTZ001 (bounds)
money = st.builds(Money, st.integers(-(10**15), 10**15), st.sampled_from(["USD", "EUR", "JPY"]), st.integers(0, 6))
texts = st.none() | st.text(max_size=20)
usage = st.builds(UsagePart, st.none() | st.booleans(), texts, st.none() | money, st.none() | money, st.none() | money)
prepaid = st.builds(PrepaidPart, st.none() | money, st.lists(st.builds(
    GrantedCredit, money, st.none() | instants, st.none() | money, st.none() | instants, texts), max_size=3).map(tuple))
grant = st.none() | st.builds(ClaimableCredit, st.none() | money, st.none() | instants, st.none() | st.booleans())


@st.composite
def records(draw: st.DrawFn, value: st.SearchStrategy[object]) -> store.PartRecord:
    read_at = draw(st.none() | instants)
    return store.PartRecord(read_at, draw(value) if read_at else None, draw(st.integers(0, 50)),
                            draw(st.none() | instants), draw(st.none() | instants), draw(st.none() | instants))


stored = st.builds(
    store.Stored,
    st.fixed_dictionaries({}, optional={store.USAGE: records(usage), store.PREPAID: records(prepaid),
                                        store.GRANT: records(grant)}),
    st.lists(st.text(max_size=30), max_size=3).map(tuple),
    st.none() | st.integers(0, 2**53),
    st.none() | st.tuples(st.integers(0, 2**62), st.integers(0, 2**40), st.text(max_size=10)),
    st.none() | instants)


@given(stored)
def test_what_is_saved_loads_back_the_same(tmp_path_factory: pytest.TempPathFactory, value: store.Stored) -> None:
    directory = tmp_path_factory.mktemp("state")
    store.save(directory, value)
    loaded = store.load(directory)
    assert loaded == value
    assert store.merged(loaded) == store.merged(value)
