"""The step's plumbing: here, formatting its moments (``iso``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from engine import runtime

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-9, minutes=-30)), None]
)


@given(moment=st.datetimes(timezones=ZONES))
def test_iso_is_isoformat(moment: datetime) -> None:
    assert runtime.iso(moment) == moment.isoformat()


def test_iso_writes_microseconds_only_when_there_are_some() -> None:
    assert runtime.iso(datetime(2026, 3, 2, 9, 5, 7, tzinfo=UTC)) == "2026-03-02T09:05:07+00:00"
    assert runtime.iso(datetime(2026, 3, 2, 9, 5, 7, 42, tzinfo=UTC)) == (
        "2026-03-02T09:05:07.000042+00:00"
    )


def test_iso_keeps_a_bounded_number_of_minutes() -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for minute in range(5000):
        moment = start + timedelta(minutes=minute, seconds=minute % 60)
        assert runtime.iso(moment) == moment.isoformat()
    assert len(runtime._MINUTES) <= 4096
