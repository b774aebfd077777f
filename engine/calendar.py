"""Durations and business calendars: "PT4H" of working time, due dates, SLAs.

Durations are written in ISO 8601 (``PT4H``, ``P2D``, ``P1W``, ``P1DT2H30M``, ``P1M``,
``P1Y``) and parsed once into a small :class:`Duration` that keeps three parts apart:
calendar months (years count as 12 months), days (weeks count as 7 days) and seconds
(hours, minutes and seconds). ``P1DT2H`` is therefore one day and two hours, not 26 hours.

A duration is added to an instant either on plain wall-clock time (no calendar, the
``24x7`` entry of :data:`DEFAULT_CALENDARS`) or on a :class:`BusinessCalendar`, where only
working hours count; see :meth:`BusinessCalendar.add` for the exact rules.

Like the rest of ``engine`` this module never reads the clock: every instant is passed in,
and every instant must be timezone-aware.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import isodate

__all__ = [
    "DEFAULT_CALENDARS",
    "MAX_SEARCH_DAYS",
    "BusinessCalendar",
    "Duration",
    "DurationError",
    "add_duration",
    "calendar_from_dict",
    "check_duration",
    "parse_duration",
]

#: How far (in calendar days) working-time arithmetic may look ahead before giving up.
MAX_SEARCH_DAYS: Final = 3660

_EXAMPLES: Final = "write it like PT4H (4 hours) or P2D (2 days)"
_MIDNIGHT: Final = time(0)
_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = timedelta(0)
_SEARCH: Final = timedelta(days=MAX_SEARCH_DAYS)


_Located = tuple[date, datetime, datetime, timedelta]
"""Where an instant falls in working time: (day, opens, closes, worked so far)."""


class DurationError(ValueError):
    """A duration that cannot be used; ``str(error)`` is a message for a business user."""


# --- durations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Duration:
    """A positive ISO 8601 duration, split into the parts that add differently.

    Attributes:
        months: calendar months (a year is 12 months).
        days: days (a week is 7 days); on a business calendar, working days.
        seconds: hours, minutes and seconds, in seconds; on a business calendar, working time.
    """

    months: int = 0
    days: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("months", "days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise DurationError(f"{name} must be a whole number, not {value!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float):
            raise DurationError(f"seconds must be a number, not {self.seconds!r}")
        if not math.isfinite(self.seconds):
            raise DurationError(f"seconds must be a finite number, not {self.seconds!r}")
        if self.months < 0 or self.days < 0 or self.seconds < 0:
            raise DurationError("a duration cannot be negative")
        if not (self.months or self.days or self.seconds):
            raise DurationError("a duration must be longer than zero")

    @property
    def time(self) -> timedelta:
        """The hours, minutes and seconds part as a timedelta."""
        return _seconds(self.seconds)

    @property
    def clock_time(self) -> timedelta:
        """Days and time as elapsed clock time (a day is 24 hours); months are not fixed lengths
        of time and must go through ``add_duration``."""
        if self.months:
            raise DurationError("months have no fixed length here; give days, e.g. P30D")
        return timedelta(days=self.days, seconds=self.seconds)

    def isoformat(self) -> str:
        """The canonical ISO 8601 text, e.g. ``P1Y2M3DT4H30M``."""
        years, months = divmod(self.months, 12)
        text = "P"
        text += f"{years}Y" if years else ""
        text += f"{months}M" if months else ""
        text += f"{self.days}D" if self.days else ""
        if self.seconds:
            micros = round(self.seconds * 1_000_000)
            hours, micros = divmod(micros, 3_600_000_000)
            minutes, micros = divmod(micros, 60_000_000)
            text += "T"
            text += f"{hours}H" if hours else ""
            text += f"{minutes}M" if minutes else ""
            if micros:
                whole, fraction = divmod(micros, 1_000_000)
                text += f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") + "S"
        return text

    def __str__(self) -> str:
        return self.isoformat()


@functools.lru_cache(maxsize=1024)
def _seconds(seconds: float) -> timedelta:
    """``timedelta(seconds=...)``, memoised: building one from a float costs more than all of
    the rest of an addition on a business calendar, and SLAs use a handful of durations."""
    return timedelta(seconds=seconds)


def _whole(value: object, text: str, unit: str) -> int:
    """A year or month count from isodate (a Decimal) as an int, refusing fractions."""
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise DurationError(
            f"'{text}' has part of a {unit}; write whole months like P1M, or days like P15D"
        )
    return int(number)


@functools.lru_cache(maxsize=1024)
def parse_duration(text: object) -> Duration:
    """Parse an ISO 8601 duration such as ``PT4H``, ``P2D``, ``P1W`` or ``P1DT2H30M``.

    Surrounding spaces are ignored and lower-case letters are accepted. Years become
    12 months and weeks 7 days; the day part and the time part are kept apart, so that
    ``P1DT2H`` is one (working) day and two hours. Days must be whole (``P1.5D`` is refused:
    write ``P1DT12H``); so must months and years.

    Raises:
        DurationError: the text is not a duration, or it is zero, negative or too long.
    """
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration; {_EXAMPLES}")
    shown = text.strip()
    if not shown:
        raise DurationError(f"no duration given; {_EXAMPLES}")
    iso = shown.upper()
    if not any(char.isdigit() for char in iso):
        raise DurationError(f"'{shown}' is not a duration; {_EXAMPLES}")
    if iso.startswith("-"):
        raise DurationError(f"'{shown}' is negative; a duration must be longer than zero")
    try:
        parsed = isodate.parse_duration(iso)
        # isodate folds the days into one timedelta with the time; parse the time on its own
        # to keep "P1DT2H" (a day and 2 hours) apart from "PT26H" (26 hours).
        time_part = isodate.parse_duration("P" + iso[iso.index("T") :]) if "T" in iso else _ZERO
    except isodate.ISO8601Error:
        hint = _EXAMPLES
        if iso.startswith("P") and "T" not in iso and re.search(r"[HS]", iso):
            hint = "hours, minutes and seconds go after a T, like PT4H (4 hours)"
        raise DurationError(f"'{shown}' is not a duration; {hint}") from None
    except (OverflowError, ValueError, ArithmeticError):
        raise DurationError(f"'{shown}' is too long to be a duration") from None

    if isinstance(parsed, isodate.Duration):
        months = _whole(parsed.years, shown, "year") * 12 + _whole(parsed.months, shown, "month")
        total = parsed.tdelta
    else:
        months = 0
        total = parsed
    if not isinstance(total, timedelta) or not isinstance(time_part, timedelta):
        raise DurationError(f"'{shown}' is not a duration; {_EXAMPLES}")
    day_part = total - time_part
    if day_part.seconds or day_part.microseconds:
        raise DurationError(f"'{shown}' has part of a day; write whole days, or hours like PT12H")
    if months < 0 or day_part < _ZERO or time_part < _ZERO:
        raise DurationError(f"'{shown}' is negative; a duration must be longer than zero")
    if not (months or day_part or time_part):
        raise DurationError(f"'{shown}' is zero; a duration must be longer than zero")
    return Duration(months=months, days=day_part.days, seconds=time_part.total_seconds())


def check_duration(text: object, *, calendar: BusinessCalendar | None = None) -> str | None:
    """``None`` when ``text`` is a usable duration, else a message for a business user.

    With a ``calendar``, durations it cannot count (months and years) are refused too.
    """
    try:
        duration = parse_duration(text)
        if calendar is not None:
            calendar.check(duration)
    except DurationError as error:
        return str(error)
    return None


def _as_duration(duration: Duration | str) -> Duration:
    if isinstance(duration, Duration):
        return duration
    return parse_duration(duration)


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is UTC:  # the common case, without a call into the tzinfo
        return
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


# --- holidays -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays (observed days included) of one country/subdivision and year."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


# --- business calendars ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours: when the clock runs for deadlines counted in working time.

    Attributes:
        name: how the calendar is referred to in workflow definitions.
        timezone: IANA time zone name; working hours are local wall-clock times there.
        work_days: the working weekdays, Monday = 0 … Sunday = 6.
        start: when a working day starts (local time).
        end: when a working day ends (local time, exclusive); ``time(0)`` means midnight at
            the end of the day, so ``start=time(0), end=time(0)`` is around the clock.
        country: ISO country code whose public holidays are days off (``holidays`` package).
        subdivision: a state/province/region of ``country`` with holidays of its own.
        closures: further days off set by an administrator.
    """

    name: str = "business"
    timezone: str = "UTC"
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9, 0)
    end: time = time(17, 0)
    country: str | None = None
    subdivision: str | None = None
    closures: tuple[date, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _closed: frozenset[date] = field(init=False, repr=False, compare=False)
    _hours_cache: dict[date, tuple[datetime, datetime] | None] = field(
        init=False, repr=False, compare=False
    )
    _last_located: list[tuple[datetime, _Located]] = field(init=False, repr=False, compare=False)
    _last_day: list[tuple[date, datetime, datetime]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        label = f"calendar '{self.name}'"
        # Working hours per day, memoised: SLA arithmetic asks for the same few days over
        # and over, and computing them (holidays, time zones) dominates its cost.
        object.__setattr__(self, "_hours_cache", {})
        # The last instant located, with where it falls: the SLA timers of a task (due,
        # reminders, escalations) all count from the same ``now``.
        object.__setattr__(self, "_last_located", [])
        # The last working day an instant fell in, with its hours: the next instants
        # located (the next steps of an instance, of others) are mostly in it too.
        object.__setattr__(self, "_last_day", [])
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"{label}: unknown time zone {self.timezone!r}") from None
        object.__setattr__(self, "_zone", zone)

        object.__setattr__(self, "work_days", tuple(self.work_days))
        if not self.work_days:
            raise ValueError(f"{label} has no working days")
        for day in self.work_days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(f"{label}: working days are 0 (Monday) to 6 (Sunday), not {day!r}")

        for what, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{label}: {what} must be a local time like 09:00")
        if self.end != _MIDNIGHT and self.start >= self.end:
            raise ValueError(
                f"{label}: the working day must end after it starts "
                f"({self.start.isoformat('minutes')} to {self.end.isoformat('minutes')})"
            )

        object.__setattr__(self, "closures", tuple(self.closures))
        for closed in self.closures:
            if isinstance(closed, datetime) or not isinstance(closed, date):
                raise ValueError(f"{label}: closures must be dates, not {closed!r}")
        object.__setattr__(self, "_closed", frozenset(self.closures))

        if self.subdivision is not None and self.country is None:
            raise ValueError(f"{label}: a subdivision needs a country")
        if self.country is not None:
            try:
                holidays.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError:
                where = (
                    self.country
                    if self.subdivision is None
                    else (f"{self.country}/{self.subdivision}")
                )
                raise ValueError(f"{label}: no public holidays known for {where!r}") from None

    # --- days -------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` has working hours: a work day that is no holiday and no closure.

        An aware datetime stands for its date in the calendar's time zone.
        """
        if isinstance(day, datetime):
            _require_aware(day, "day")
            day = day.astimezone(self._zone).date()
        if day.weekday() not in self.work_days or day in self._closed:
            return False
        return self.country is None or day not in _public_holidays(
            self.country, self.subdivision, day.year
        )

    def _hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of ``day`` as UTC instants [start, end), or None if closed."""
        cache = self._hours_cache
        if day not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[day] = self._compute_hours(day)
        return cache[day]

    def _compute_hours(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_working_day(day):
            return None
        opens = datetime.combine(day, self.start, tzinfo=self._zone).astimezone(UTC)
        end_day = day + _ONE_DAY if self.end == _MIDNIGHT else day
        closes = datetime.combine(end_day, self.end, tzinfo=self._zone).astimezone(UTC)
        # Only a working day that starts or ends inside a DST gap can come out empty.
        return (opens, closes) if closes > opens else None

    def _next_hours(self, day: date, limit: date) -> tuple[date, datetime, datetime]:
        """The first working day after ``day`` with its hours; ValueError past ``limit``."""
        while day < limit:
            day += _ONE_DAY
            hours = self._hours(day)
            if hours is not None:
                return day, hours[0], hours[1]
        raise ValueError(
            f"calendar '{self.name}': no working time within {MAX_SEARCH_DAYS} days; "
            "the duration is too long or the calendar is closed"
        )

    def _locate(self, moment: datetime) -> _Located:
        """Where an instant falls in working time: (day, opens, closes, worked so far).

        An instant outside working hours moves to the next working moment; the exact end of
        a working day stays on that day (worked = the whole day).
        """
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)  # compared in UTC: local times can repeat (fold)
        last = self._last_located
        if last:
            known, located = last[0]
            if known == moment:
                return located
        located = self._locate_utc(moment)
        last[:] = [(moment, located)]  # one slice assignment: a reader sees an old or new pair
        return located

    def _locate_utc(self, moment: datetime) -> _Located:
        known = self._last_day
        if known:
            day, opens, closes = known[0]
            # strictly after the opening: at the very moment a day opens, the day before
            # may be the one (it ends at 24:00), and the search below knows
            if opens < moment <= closes:
                return day, opens, closes, moment - opens
        located = self._search(moment)
        if located[3]:  # inside that day's hours: worth remembering
            known[:] = [located[:3]]
        return located

    def _search(self, moment: datetime) -> _Located:
        day = moment.astimezone(self._zone).date() - _ONE_DAY  # "24:00" ends on the next date
        hours = self._hours(day)
        if hours is not None and moment <= hours[1]:
            opens, closes = hours
        else:
            limit = day + _SEARCH
            day, opens, closes = self._next_hours(day, limit)
            while closes < moment:  # on that day, but after hours
                day, opens, closes = self._next_hours(day, limit)
        return day, opens, closes, max(moment - opens, _ZERO)

    # --- arithmetic -------------------------------------------------------------------------

    def check(self, duration: Duration | str) -> Duration:
        """The duration if working time can count it; DurationError for months and years."""
        parsed = _as_duration(duration)
        if parsed.months:
            raise DurationError(
                f"'{parsed}' counts months or years, which working time cannot; on calendar "
                f"'{self.name}' write working days like P20D, or use the 24x7 calendar"
            )
        return parsed

    def add(self, start: datetime, duration: Duration | str) -> datetime:
        """The instant ``duration`` of working time after ``start``.

        Rules, in order:

        1. ``start`` is taken in the calendar's time zone; outside working hours (before the
           start, after the end, on a weekend, holiday or closure) it first moves to the next
           working moment. The exact end of a working day counts as that day's end.
        2. The day part (``P2D``; ``P1W`` is ``P7D``, i.e. seven *working* days) moves forward
           that many working days, keeping the time worked into the day (the time of day,
           unless a DST change falls inside working hours), cut to the day's length.
        3. The time part (``PT4H``) consumes working time only, within [start, end) of working
           days, whole days at a time. When it runs out exactly at the end of a working day,
           the result is that day's end (17:00), not the next morning.

        Working hours are local wall-clock times, so a DST change moves them in UTC; the
        arithmetic itself is done on real (UTC) time, so a working day with a DST change
        inside its hours is an hour shorter or longer. An opening or closing time that does
        not exist that day (inside a DST gap) is moved forward by the gap, as usual. Months and years are refused with a
        DurationError: a month of working time has no fixed length. The result is an aware
        datetime in ``start``'s tzinfo.

        Raises:
            DurationError: the duration is invalid or has months or years.
            ValueError: ``start`` is naive, or the result is more than
                :data:`MAX_SEARCH_DAYS` calendar days ahead.
        """
        parsed = self.check(duration)
        _require_aware(start, "start")
        day, opens, closes, worked = self._locate(start)
        limit = day + _SEARCH

        for _ in range(parsed.days):
            day, opens, closes = self._next_hours(day, limit)
        if parsed.days:
            worked = min(worked, closes - opens)

        remaining = parsed.time
        while worked + remaining > closes - opens:
            remaining -= closes - opens - worked
            day, opens, closes = self._next_hours(day, limit)
            worked = _ZERO
        end = opens + worked + remaining  # in UTC, as the opening hours are kept
        return end if start.tzinfo is UTC else end.astimezone(start.tzinfo)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """The working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b.astimezone(UTC) < a.astimezone(UTC):
            return -self.working_time_between(b, a)
        first, opens, closes, worked_a = self._locate(a)
        last, _, _, worked_b = self._locate(b)
        if first == last:
            return worked_b - worked_a
        total = closes - opens - worked_a + worked_b
        day = first
        while True:
            day, opens, closes = self._next_hours(day, last)
            if day == last:
                return total
            total += closes - opens


# --- plain (24x7) arithmetic ----------------------------------------------------------------


def _add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time ``months`` calendar months later, clamped to month end."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last_day = (following - _ONE_DAY).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def add_duration(
    start: datetime, duration: str | Duration, calendar: BusinessCalendar | None = None
) -> datetime:
    """``start`` plus ``duration``, on ``calendar``'s working time or, if None, wall-clock.

    Without a calendar: months (and years) step calendar months keeping the local time,
    clamped to the month's last day (31 Jan + P1M = 28/29 Feb); days step calendar days
    keeping the local time; hours, minutes and seconds are elapsed time, so PT24H across a
    DST change is 24 real hours while P1D is the same time next day. The result is in
    ``start``'s tzinfo.

    Raises:
        DurationError: the duration is invalid (or, on a calendar, counts months).
        ValueError: ``start`` is naive or the result is out of range.
    """
    parsed = _as_duration(duration)
    if calendar is not None:
        return calendar.add(start, parsed)
    _require_aware(start, "start")
    zone: tzinfo | None = start.tzinfo
    try:
        local = _add_months(start, parsed.months) if parsed.months else start
        local += timedelta(days=parsed.days)
        return (local.astimezone(UTC) + parsed.time).astimezone(zone)
    except (OverflowError, ValueError):
        raise ValueError(f"{start.isoformat()} + {parsed} is out of range") from None


# --- configuration --------------------------------------------------------------------------

_DAY_NAMES: Final = {
    name: index
    for index, names in enumerate(
        [
            ("mo", "mon", "monday"),
            ("tu", "tue", "tuesday"),
            ("we", "wed", "wednesday"),
            ("th", "thu", "thursday"),
            ("fr", "fri", "friday"),
            ("sa", "sat", "saturday"),
            ("su", "sun", "sunday"),
        ]
    )
    for name in names
}
_TIME_TEXT: Final = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_KEYS: Final = frozenset(
    {"name", "timezone", "work_days", "start", "end", "country", "subdivision", "closures"}
)


def _time_from(value: object, what: str, label: str) -> time:
    if isinstance(value, time):
        return value
    match = _TIME_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        hour, minute, second = (int(part or 0) for part in match.groups())
        if what == "end" and (hour, minute, second) == (24, 0, 0):
            return _MIDNIGHT
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise ValueError(f"{label}: {what} {value!r} is not a time; write it like 09:00")


def _day_from(value: object, label: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower() in _DAY_NAMES:
        return _DAY_NAMES[value.strip().lower()]
    raise ValueError(
        f"{label}: {value!r} is not a day of the week; use 0 (Monday) to 6 (Sunday) or a name"
    )


def _date_from(value: object, label: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{label}: closure {value!r} is not a date; write it like 2025-12-24")


def _optional_text(data: Mapping[str, Any], key: str, label: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label}: {key} must be a non-empty text, not {value!r}")
    return value.strip()


def calendar_from_dict(data: Mapping[str, Any]) -> BusinessCalendar:
    """Build a calendar from its JSON form.

    Example::

        {"name": "berlin-office", "timezone": "Europe/Berlin", "work_days": [0, 1, 2, 3, 4],
         "start": "08:30", "end": "17:00", "country": "DE", "subdivision": "BE",
         "closures": ["2025-12-24", "2025-12-31"]}

    Every key is optional (the defaults are those of :class:`BusinessCalendar`). Work days
    may also be names ("mon", "Tuesday"); ``end`` may be "24:00".

    Raises:
        ValueError: with a message naming the calendar and the bad setting.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a calendar must be an object, not {type(data).__name__}")
    name = data.get("name", "business")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a calendar name must be a non-empty text, not {name!r}")
    name = name.strip()
    label = f"calendar '{name}'"
    unknown = sorted(str(key) for key in data if key not in _KEYS)
    if unknown:
        raise ValueError(f"{label}: unknown setting(s) {', '.join(unknown)}")

    settings: dict[str, Any] = {"name": name}
    if "timezone" in data:
        settings["timezone"] = _optional_text(data, "timezone", label) or "UTC"
    if "work_days" in data:
        days = data["work_days"]
        if isinstance(days, str) or not isinstance(days, list | tuple):
            raise ValueError(f"{label}: work_days must be a list like [0, 1, 2, 3, 4]")
        settings["work_days"] = tuple(sorted({_day_from(day, label) for day in days}))
    for key in ("start", "end"):
        if key in data:
            settings[key] = _time_from(data[key], key, label)
    settings["country"] = _optional_text(data, "country", label)
    settings["subdivision"] = _optional_text(data, "subdivision", label)
    if "closures" in data:
        closures = data["closures"]
        if isinstance(closures, str) or not isinstance(closures, list | tuple):
            raise ValueError(f"{label}: closures must be a list of dates like ['2025-12-24']")
        settings["closures"] = tuple(sorted({_date_from(day, label) for day in closures}))
    return BusinessCalendar(**settings)


#: The calendars every installation has; ``None`` means plain wall-clock time.
DEFAULT_CALENDARS: Final[Mapping[str, BusinessCalendar | None]] = MappingProxyType(
    {"business": BusinessCalendar(), "24x7": None}
)
