"""The service's clock: the system's, or — for tests and demos — one an admin can move forward.

Routes and workers ask ``now()``; the app's clock is found through a context variable
that a middleware sets for each request (and the worker sets for each tick), so nothing
reads a global at import time. The controllable clock keeps its offset in this process.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime, timedelta


class Clock:
    """System time plus an offset that only moves forward (and only when controllable)."""

    def __init__(self, *, controllable: bool = False) -> None:
        self.controllable = controllable
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, *, by: timedelta | None = None, to: datetime | None = None) -> datetime:
        """Move the clock forward by a duration or to a moment; never backwards."""
        if not self.controllable:
            raise PermissionError("this service runs on the system clock")
        if (by is None) == (to is None):
            raise ValueError("give either 'by' or 'to'")
        current = self.now()
        if by is not None:
            target = current + by
        elif to is not None:
            target = to
        if target.tzinfo is None:
            raise ValueError("'to' needs a time zone, e.g. 2026-01-05T09:00:00Z")
        if target < current:
            raise ValueError(f"the clock never goes backwards (it is {current.isoformat()})")
        self._offset += target - current
        return self.now()


_current: ContextVar[Clock | None] = ContextVar("stepwise_clock", default=None)


def use(clock: Clock) -> None:
    """Make ``clock`` the one ``now()`` reads in this context (a request, a worker tick)."""
    _current.set(clock)


def now() -> datetime:
    """The current time on the app's clock (the system's when none is set)."""
    clock = _current.get()
    return clock.now() if clock is not None else datetime.now(UTC)
