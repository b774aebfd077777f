"""Durations, plain and working-time arithmetic, business calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import (
    DEFAULT_CALENDARS,
    BusinessCalendar,
    Duration,
    DurationError,
    add_duration,
    calendar_from_dict,
    check_duration,
    parse_duration,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
BUSINESS = BusinessCalendar()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", Duration(seconds=4 * 3600)),
        ("P2D", Duration(days=2)),
        ("P1W", Duration(days=7)),
        ("P2W3D", Duration(days=17)),
        ("P1DT2H30M", Duration(days=1, seconds=2 * 3600 + 30 * 60)),
        ("PT26H", Duration(seconds=26 * 3600)),
        ("PT1.5H", Duration(seconds=5400)),
        ("PT0,5S", Duration(seconds=0.5)),
        ("P1M", Duration(months=1)),
        ("P1Y", Duration(months=12)),
        ("P1Y2M3DT4H", Duration(months=14, days=3, seconds=4 * 3600)),
        ("P1DT", Duration(days=1)),
    ],
)
def test_parse_duration_splits_months_days_and_seconds(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


def test_a_day_and_two_hours_is_not_twenty_six_hours() -> None:
    assert parse_duration("P1DT2H") != parse_duration("PT26H")


def test_lower_case_and_surrounding_spaces_are_accepted() -> None:
    assert parse_duration(" pt4h ") == Duration(seconds=4 * 3600)


def test_parse_duration_is_cached() -> None:
    assert parse_duration("P3DT7H") is parse_duration("P3DT7H")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("4 hours", "'4 hours' is not a duration; write it like PT4H (4 hours) or P2D (2 days)"),
        ("", "no duration given; write it like PT4H (4 hours) or P2D (2 days)"),
        ("PT", "'PT' is not a duration; write it like PT4H (4 hours) or P2D (2 days)"),
        ("P4H", "'P4H' is not a duration; hours, minutes and seconds go after a T, like PT4H"),
        ("P0001-02-03T04:05:06", "'P0001-02-03T04:05:06' is not a duration"),
        ("-P1D", "'-P1D' is negative; a duration must be longer than zero"),
        ("P0D", "'P0D' is zero; a duration must be longer than zero"),
        ("PT0S", "'PT0S' is zero; a duration must be longer than zero"),
        ("P1.5D", "'P1.5D' has part of a day; write whole days, or hours like PT12H"),
        ("P0.5W", "'P0.5W' has part of a day"),
        ("P1.5M", "'P1.5M' has part of a month; write whole months like P1M"),
        ("P0.5Y", "'P0.5Y' has part of a year"),
        ("PT99999999999999999999H", "'PT99999999999999999999H' is too long"),
    ],
)
def test_bad_durations_are_refused_with_a_message(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(message)
    assert check_duration(text) == str(caught.value)


def test_duration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_a_non_text_duration_is_refused() -> None:
    assert check_duration(4) == "4 is not a duration; write it like PT4H (4 hours) or P2D (2 days)"  # type: ignore[arg-type]


def test_check_duration_accepts_a_good_duration() -> None:
    assert check_duration("P1DT2H") is None


def test_check_duration_on_a_calendar_refuses_months() -> None:
    assert check_duration("P1M") is None
    message = check_duration("P1M", calendar=BUSINESS)
    assert message is not None
    assert "months or years" in message
    assert check_duration("P20D", calendar=BUSINESS) is None


@pytest.mark.parametrize(
    ("months", "days", "seconds"), [(-1, 0, 0), (0, -1, 0), (0, 0, -1.0), (0, 0, 0)]
)
def test_a_duration_must_be_positive(months: int, days: int, seconds: float) -> None:
    with pytest.raises(DurationError):
        Duration(months=months, days=days, seconds=seconds)


@pytest.mark.parametrize("text", ["P1Y2M3DT4H5M6S", "PT0.25S", "P2D", "PT26H", "P1M"])
def test_duration_text_round_trips(text: str) -> None:
    assert str(parse_duration(text)) == text
    assert parse_duration(str(parse_duration(text))) == parse_duration(text)


# --- plain (24x7) arithmetic ------------------------------------------------------------------


def test_plain_hours_and_days_add_as_elapsed_time() -> None:
    assert add_duration(utc(2025, 6, 6, 15, 0), "PT4H") == utc(2025, 6, 6, 19, 0)
    assert add_duration(utc(2025, 6, 6, 15, 0), "P1DT2H30M") == utc(2025, 6, 7, 17, 30)
    assert add_duration(utc(2025, 6, 6, 15, 0), "P1W") == utc(2025, 6, 13, 15, 0)


def test_plain_month_is_clamped_to_the_end_of_the_month() -> None:
    assert add_duration(utc(2024, 1, 31, 12, 0), "P1M") == utc(2024, 2, 29, 12, 0)
    assert add_duration(utc(2025, 1, 31, 12, 0), "P1M") == utc(2025, 2, 28, 12, 0)
    assert add_duration(utc(2024, 2, 29, 8, 0), "P1Y") == utc(2025, 2, 28, 8, 0)
    assert add_duration(utc(2024, 11, 30, 8, 0), "P2M") == utc(2025, 1, 30, 8, 0)


def test_plain_day_keeps_the_wall_clock_across_dst_but_hours_are_real_hours() -> None:
    before = berlin(2024, 3, 30, 12, 0)  # the clocks go forward in the night to the 31st
    assert add_duration(before, "P1D") == berlin(2024, 3, 31, 12, 0)
    after_24h = add_duration(before, "PT24H")
    assert after_24h == berlin(2024, 3, 31, 13, 0)
    assert after_24h.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=24)


def test_plain_result_keeps_the_tzinfo_of_start() -> None:
    start = datetime(2025, 6, 6, 15, 0, tzinfo=NEW_YORK)
    assert add_duration(start, "PT1H").tzinfo is NEW_YORK


def test_plain_arithmetic_accepts_a_duration_object() -> None:
    assert add_duration(utc(2025, 1, 1), Duration(days=1)) == utc(2025, 1, 2)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_duration(datetime(2025, 1, 1), "PT1H")
    with pytest.raises(ValueError, match="timezone-aware"):
        BUSINESS.add(datetime(2025, 1, 1), "PT1H")


def test_plain_arithmetic_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        add_duration(utc(9999, 12, 1), "P1M")


def test_default_calendars() -> None:
    assert DEFAULT_CALENDARS["business"] == BusinessCalendar()
    assert DEFAULT_CALENDARS["24x7"] is None


# --- working hours ----------------------------------------------------------------------------


def test_four_working_hours_within_a_day() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 10, 0), "PT4H") == utc(2025, 6, 4, 14, 0)


def test_four_working_hours_from_friday_afternoon_end_monday_morning() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 15, 0), "PT4H") == utc(2025, 6, 9, 11, 0)


def test_forty_working_hours_are_one_working_week() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 10, 0), "PT40H") == utc(2025, 6, 11, 10, 0)


def test_start_before_opening_counts_from_opening() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 7, 30), "PT2H") == utc(2025, 6, 4, 11, 0)


def test_start_after_closing_counts_from_next_morning() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 19, 0), "PT2H") == utc(2025, 6, 5, 11, 0)


def test_start_on_a_sunday_counts_from_monday_morning() -> None:
    assert BUSINESS.add(utc(2025, 6, 8, 12, 0), "PT2H") == utc(2025, 6, 9, 11, 0)


def test_start_at_closing_time_on_friday_counts_from_monday_morning() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 17, 0), "PT1H") == utc(2025, 6, 9, 10, 0)


def test_time_running_out_at_closing_returns_the_end_of_that_day() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 13, 0), "PT4H") == utc(2025, 6, 6, 17, 0)
    assert BUSINESS.add(utc(2025, 6, 6, 9, 0), "PT8H") == utc(2025, 6, 6, 17, 0)
    assert BUSINESS.add(utc(2025, 6, 5, 9, 0), "PT16H") == utc(2025, 6, 6, 17, 0)


def test_one_second_past_a_full_day_is_the_next_working_morning() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 9, 0), "PT8H1S") == utc(2025, 6, 9, 9, 0, 1)


def test_fractional_seconds_are_kept() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 9, 0), "PT0.25S") == utc(2025, 6, 6, 9, 0, 0, 250000)


def test_day_part_keeps_the_time_of_day() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 14, 30), "P2D") == utc(2025, 6, 6, 14, 30)
    assert BUSINESS.add(utc(2025, 6, 6, 10, 0), "P1D") == utc(2025, 6, 9, 10, 0)


def test_day_part_then_hours() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 15, 0), "P1DT3H") == utc(2025, 6, 10, 10, 0)


def test_day_part_from_outside_hours_starts_at_the_next_opening() -> None:
    assert BUSINESS.add(utc(2025, 6, 7, 12, 0), "P1D") == utc(2025, 6, 10, 9, 0)  # Saturday
    assert BUSINESS.add(utc(2025, 6, 6, 7, 0), "P1D") == utc(2025, 6, 9, 9, 0)  # early Friday


def test_one_working_day_from_friday_closing_is_monday_closing() -> None:
    assert BUSINESS.add(utc(2025, 6, 6, 17, 0), "P1D") == utc(2025, 6, 9, 17, 0)


def test_a_week_on_a_business_calendar_is_seven_working_days() -> None:
    assert BUSINESS.add(utc(2025, 6, 4, 10, 0), "P1W") == utc(2025, 6, 13, 10, 0)


def test_months_and_years_are_refused_on_a_business_calendar() -> None:
    with pytest.raises(DurationError, match="counts months or years"):
        BUSINESS.add(utc(2025, 6, 4, 10, 0), "P1M")
    with pytest.raises(DurationError, match="counts months or years"):
        add_duration(utc(2025, 6, 4, 10, 0), "P1Y", BUSINESS)


def test_add_duration_with_a_calendar_counts_working_time() -> None:
    assert add_duration(utc(2025, 6, 6, 15, 0), "PT4H", BUSINESS) == utc(2025, 6, 9, 11, 0)
    assert add_duration(utc(2025, 6, 6, 15, 0), "PT4H", None) == utc(2025, 6, 6, 19, 0)


def test_result_is_in_the_tzinfo_of_start() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin")
    start = utc(2025, 6, 6, 13, 0)  # 15:00 in Berlin
    result = calendar.add(start, "PT4H")
    assert result.tzinfo is UTC
    assert result == utc(2025, 6, 9, 9, 0)  # 11:00 in Berlin


def test_working_hours_are_local_to_the_calendar_time_zone() -> None:
    calendar = BusinessCalendar(timezone="America/New_York")
    start = datetime(2025, 6, 6, 15, 0, tzinfo=NEW_YORK)
    assert calendar.add(start, "PT4H") == datetime(2025, 6, 9, 11, 0, tzinfo=NEW_YORK)
    # 20:00 UTC on Friday is still 16:00 in New York: one working hour left that day.
    assert calendar.add(utc(2025, 6, 6, 20, 0), "PT2H") == utc(2025, 6, 9, 14, 0)


# --- holidays and closures --------------------------------------------------------------------


def test_us_independence_day_is_skipped() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", country="US")
    assert not calendar.is_working_day(date(2025, 7, 4))  # a Friday
    start = datetime(2025, 7, 3, 15, 0, tzinfo=NEW_YORK)
    assert calendar.add(start, "PT4H") == datetime(2025, 7, 7, 11, 0, tzinfo=NEW_YORK)


def test_observed_holiday_in_the_previous_year_is_skipped() -> None:
    calendar = BusinessCalendar(country="US")
    assert not calendar.is_working_day(date(2021, 12, 31))  # New Year's Day 2022, observed


def test_christmas_in_great_britain_is_skipped() -> None:
    calendar = BusinessCalendar(timezone="Europe/London", country="GB", subdivision="ENG")
    london = ZoneInfo("Europe/London")
    start = datetime(2024, 12, 24, 16, 0, tzinfo=london)  # Christmas Wednesday, Boxing Thursday
    assert calendar.add(start, "PT2H") == datetime(2024, 12, 27, 10, 0, tzinfo=london)


def test_christmas_in_germany_is_skipped() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", country="DE")
    assert calendar.is_working_day(date(2024, 12, 24))
    assert not calendar.is_working_day(date(2024, 12, 25))
    assert not calendar.is_working_day(date(2024, 12, 26))
    assert calendar.add(berlin(2024, 12, 24, 16, 0), "P1DT2H") == berlin(2024, 12, 30, 10, 0)


def test_subdivision_holidays_apply_only_there() -> None:
    epiphany = date(2025, 1, 6)  # a Monday; a holiday in Bavaria only
    assert BusinessCalendar(country="DE").is_working_day(epiphany)
    assert not BusinessCalendar(country="DE", subdivision="BY").is_working_day(epiphany)


def test_closures_are_skipped() -> None:
    calendar = BusinessCalendar(closures=(date(2025, 6, 9), date(2025, 6, 10)))
    assert not calendar.is_working_day(date(2025, 6, 9))
    assert calendar.add(utc(2025, 6, 6, 15, 0), "PT4H") == utc(2025, 6, 11, 11, 0)
    assert calendar.add(utc(2025, 6, 6, 15, 0), "P1D") == utc(2025, 6, 11, 15, 0)


def test_is_working_day_weekends() -> None:
    assert BUSINESS.is_working_day(date(2025, 6, 6))
    assert not BUSINESS.is_working_day(date(2025, 6, 7))
    assert not BUSINESS.is_working_day(date(2025, 6, 8))


def test_is_working_day_takes_an_aware_datetime_in_the_calendar_time_zone() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin")
    assert not calendar.is_working_day(utc(2025, 6, 6, 23, 0))  # already Saturday in Berlin
    assert calendar.is_working_day(utc(2025, 6, 6, 21, 0))


def test_weekend_working_calendar() -> None:
    calendar = BusinessCalendar(work_days=(5, 6), start=time(10, 0), end=time(14, 0))
    assert calendar.add(utc(2025, 6, 4, 12, 0), "PT6H") == utc(2025, 6, 8, 12, 0)


def test_around_the_clock_on_weekdays() -> None:
    calendar = BusinessCalendar(start=time(0, 0), end=time(0, 0))
    assert calendar.add(utc(2025, 6, 6, 22, 0), "PT4H") == utc(2025, 6, 9, 2, 0)
    assert calendar.add(utc(2025, 6, 6, 22, 0), "PT2H") == utc(2025, 6, 7, 0, 0)
    assert calendar.working_time_between(utc(2025, 6, 6, 22, 0), utc(2025, 6, 9, 2, 0)) == (
        timedelta(hours=4)
    )


def test_too_far_ahead_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no working time within 3660 days"):
        BUSINESS.add(utc(2025, 6, 4, 10, 0), "P3000D")


# --- daylight saving time ---------------------------------------------------------------------


def test_working_hours_follow_the_spring_dst_change_in_berlin() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin")
    start = utc(2024, 3, 29, 14, 0)  # Friday 15:00 CET
    assert calendar.add(start, "PT4H") == utc(2024, 4, 1, 9, 0)  # Monday 11:00 CEST
    assert calendar.add(berlin(2024, 3, 29, 15, 0), "PT4H") == berlin(2024, 4, 1, 11, 0)


def test_working_hours_follow_the_autumn_dst_change_in_berlin() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin")
    start = utc(2024, 10, 25, 14, 0)  # Friday 16:00 CEST
    assert calendar.add(start, "PT2H") == utc(2024, 10, 28, 9, 0)  # Monday 10:00 CET


def test_a_dst_change_inside_working_hours_shortens_the_day() -> None:
    night = BusinessCalendar(
        timezone="Europe/Berlin", work_days=tuple(range(7)), start=time(1, 0), end=time(5, 0)
    )
    spring = berlin(2024, 3, 31, 1, 0)
    assert night.working_time_between(spring, berlin(2024, 3, 31, 5, 0)) == timedelta(hours=3)
    assert night.add(spring, "PT3H") == berlin(2024, 3, 31, 5, 0)
    autumn = berlin(2024, 10, 27, 1, 0)
    assert night.working_time_between(autumn, berlin(2024, 10, 27, 5, 0)) == timedelta(hours=5)
    assert night.add(autumn, "PT5H") == berlin(2024, 10, 27, 5, 0)


# --- working time between ---------------------------------------------------------------------


def test_working_time_between_within_a_day() -> None:
    assert BUSINESS.working_time_between(utc(2025, 6, 4, 10, 0), utc(2025, 6, 4, 12, 30)) == (
        timedelta(hours=2, minutes=30)
    )


def test_working_time_between_across_a_weekend() -> None:
    assert BUSINESS.working_time_between(utc(2025, 6, 6, 15, 0), utc(2025, 6, 9, 11, 0)) == (
        timedelta(hours=4)
    )


def test_working_time_between_counts_whole_days_in_between() -> None:
    assert BUSINESS.working_time_between(utc(2025, 6, 2, 9, 0), utc(2025, 6, 13, 17, 0)) == (
        timedelta(hours=80)
    )


def test_working_time_between_outside_hours_is_zero() -> None:
    assert BUSINESS.working_time_between(utc(2025, 6, 6, 17, 0), utc(2025, 6, 9, 9, 0)) == (
        timedelta(0)
    )
    assert BUSINESS.working_time_between(utc(2025, 6, 7, 1, 0), utc(2025, 6, 8, 23, 0)) == (
        timedelta(0)
    )


def test_working_time_between_backwards_is_negative() -> None:
    assert BUSINESS.working_time_between(utc(2025, 6, 9, 11, 0), utc(2025, 6, 6, 15, 0)) == (
        -timedelta(hours=4)
    )


def test_working_time_between_skips_holidays() -> None:
    calendar = BusinessCalendar(country="US")
    assert calendar.working_time_between(utc(2025, 7, 3, 9, 0), utc(2025, 7, 7, 17, 0)) == (
        timedelta(hours=16)
    )


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"work_days": ()}, "has no working days"),
        ({"work_days": (7,)}, "working days are 0 .Monday. to 6"),
        ({"start": time(17, 0), "end": time(9, 0)}, "must end after it starts"),
        ({"start": time(9, 0), "end": time(9, 0)}, "must end after it starts"),
        ({"start": time(9, 0, tzinfo=UTC)}, "must be a local time"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"country": "XX"}, "no public holidays known for 'XX'"),
        ({"country": "US", "subdivision": "ZZ"}, "no public holidays known for 'US/ZZ'"),
        ({"subdivision": "BY"}, "a subdivision needs a country"),
        ({"closures": (utc(2025, 1, 1),)}, "closures must be dates"),
    ],
)
def test_bad_calendars_are_refused(settings_: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**settings_)  # type: ignore[arg-type]


def test_calendars_are_hashable_and_compare_by_settings() -> None:
    assert hash(BusinessCalendar()) == hash(BusinessCalendar())
    assert BusinessCalendar(closures=(date(2025, 1, 2),)) != BusinessCalendar()


# --- from a dict ------------------------------------------------------------------------------


def test_calendar_from_dict() -> None:
    calendar = calendar_from_dict(
        {
            "name": "berlin-office",
            "timezone": "Europe/Berlin",
            "work_days": [0, 1, 2, 3, "fri"],
            "start": "08:30",
            "end": "17:00",
            "country": "DE",
            "subdivision": "BE",
            "closures": ["2025-12-31", "2025-12-24"],
        }
    )
    assert calendar == BusinessCalendar(
        name="berlin-office",
        timezone="Europe/Berlin",
        work_days=(0, 1, 2, 3, 4),
        start=time(8, 30),
        end=time(17, 0),
        country="DE",
        subdivision="BE",
        closures=(date(2025, 12, 24), date(2025, 12, 31)),
    )


def test_calendar_from_an_empty_dict_is_the_default() -> None:
    assert calendar_from_dict({}) == BusinessCalendar()


def test_calendar_from_dict_end_of_day_as_24_00() -> None:
    calendar = calendar_from_dict({"start": "0:00", "end": "24:00"})
    assert calendar.end == time(0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "a calendar name must be a non-empty text"),
        ({"colour": "red"}, "unknown setting.s. colour"),
        ({"start": "9am"}, "start '9am' is not a time; write it like 09:00"),
        ({"end": "25:00"}, "end '25:00' is not a time"),
        ({"start": "24:00"}, "start '24:00' is not a time"),
        ({"start": 9}, "start 9 is not a time"),
        ({"start": "18:00"}, "must end after it starts"),
        ({"work_days": "mon-fri"}, "work_days must be a list"),
        ({"work_days": [0, "someday"]}, "'someday' is not a day of the week"),
        ({"work_days": [True]}, "True is not a day of the week"),
        ({"work_days": []}, "has no working days"),
        ({"closures": ["24.12.2025"]}, "closure '24.12.2025' is not a date"),
        ({"closures": "2025-12-24"}, "closures must be a list"),
        ({"timezone": "Nowhere/Land"}, "unknown time zone 'Nowhere/Land'"),
        ({"country": 49}, "country must be a non-empty text"),
        ({"country": "Narnia"}, "no public holidays known for 'Narnia'"),
    ],
)
def test_calendar_from_dict_refuses_bad_settings(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calendar_from_dict(data)


def test_calendar_from_dict_names_the_calendar_in_errors() -> None:
    with pytest.raises(ValueError, match="calendar 'night shift': start"):
        calendar_from_dict({"name": "night shift", "start": "late"})


def test_calendar_from_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        calendar_from_dict(["business"])  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

CALENDARS = [
    BUSINESS,
    BusinessCalendar(
        timezone="Europe/Berlin",
        country="DE",
        closures=(date(2025, 12, 24), date(2025, 12, 31)),
    ),
    BusinessCalendar(timezone="America/New_York", country="US", start=time(8, 30)),
    BusinessCalendar(
        timezone="Europe/Berlin", work_days=tuple(range(7)), start=time(1, 30), end=time(3, 30)
    ),
    BusinessCalendar(timezone="Europe/Berlin", work_days=(0, 2, 4), start=time(0), end=time(0)),
]

starts = st.datetimes(
    min_value=datetime(2023, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]),
)
calendars = st.sampled_from(CALENDARS)


def is_working_moment_or_day_end(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Whether ``moment`` is inside working hours, or exactly at the end of a working day."""
    zone = ZoneInfo(calendar.timezone)
    local = moment.astimezone(zone)
    day, clock = local.date(), local.time()
    if calendar.end == time(0):
        return calendar.is_working_day(day) or (
            clock == time(0) and calendar.is_working_day(day - timedelta(days=1))
        )
    return calendar.is_working_day(day) and calendar.start <= clock <= calendar.end


@settings(deadline=None, max_examples=200)
@given(calendar=calendars, start=starts, hours=st.integers(1, 120), minutes=st.integers(0, 59))
def test_adding_working_hours_adds_exactly_that_much_working_time(
    calendar: BusinessCalendar, start: datetime, hours: int, minutes: int
) -> None:
    duration = f"PT{hours}H{minutes}M"
    result = calendar.add(start, duration)
    assert result.tzinfo is start.tzinfo
    assert result.astimezone(UTC) > start.astimezone(UTC)
    assert calendar.working_time_between(start, result) == timedelta(hours=hours, minutes=minutes)
    assert is_working_moment_or_day_end(calendar, result)


@settings(deadline=None)
@given(calendar=calendars, start=starts, first=st.integers(1, 60), second=st.integers(1, 60))
def test_adding_working_hours_in_two_steps_is_the_same_as_in_one(
    calendar: BusinessCalendar, start: datetime, first: int, second: int
) -> None:
    in_two = calendar.add(calendar.add(start, f"PT{first}H"), f"PT{second}H")
    assert in_two == calendar.add(start, f"PT{first + second}H")


@settings(deadline=None)
@given(calendar=calendars, start=starts, days=st.integers(1, 30))
def test_adding_working_days_lands_on_a_working_day_after_start(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    result = calendar.add(start, f"P{days}D")
    assert result.astimezone(UTC) > start.astimezone(UTC)
    assert is_working_moment_or_day_end(calendar, result)


@settings(deadline=None)
@given(calendar=calendars, a=starts, b=starts)
def test_working_time_between_is_antisymmetric_and_bounded(
    calendar: BusinessCalendar, a: datetime, b: datetime
) -> None:
    forward = calendar.working_time_between(a, b)
    assert forward == -calendar.working_time_between(b, a)
    assert abs(forward) <= abs(b.astimezone(UTC) - a.astimezone(UTC))


def test_clock_time_counts_days_as_24_hours_and_refuses_months():
    assert parse_duration("P1DT2H").clock_time == timedelta(days=1, hours=2)
    assert parse_duration("PT90M").clock_time == timedelta(minutes=90)
    with pytest.raises(DurationError, match="months"):
        _ = parse_duration("P1M").clock_time


CACHED_CALENDARS = {
    "business": {},
    "berlin, to midnight": {"timezone": "Europe/Berlin", "start": "00:00", "end": "24:00"},
    "new york, short days": {
        "timezone": "America/New_York",
        "start": "11:00",
        "end": "15:30",
    },
}


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(sorted(CACHED_CALENDARS)),
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2026, 3, 25), max_value=datetime(2026, 4, 2), timezones=st.just(UTC)
        ),
        min_size=1,
        max_size=12,
    ),
    duration=st.sampled_from(["PT1H", "PT4H", "PT8H", "P1D", "P2DT3H"]),
)
def test_what_a_calendar_remembers_never_changes_an_answer(
    which: str, moments: list[datetime], duration: str
) -> None:
    """One calendar asked many times (remembering the last day and instant it located)
    answers as a new calendar asked once; the dates cross a DST change."""
    settings_ = {"name": "c", **CACHED_CALENDARS[which]}
    used = calendar_from_dict(settings_)
    for moment in moments:
        assert used.add(moment, duration) == calendar_from_dict(settings_).add(moment, duration)
