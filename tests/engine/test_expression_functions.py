"""The functions an expression may call: results, misuse, and calls refused when compiling."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engine.expressions import ExpressionEvalError, ExpressionSyntaxError, compile_expression
from tests.engine.test_expressions import ev


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len(items)", 3),
        ("len(name)", 15),
        ("len(customer)", 3),
        ("sum(items)", 6),
        ("sum([0.5, 0.25])", 0.75),
        ("min(items)", 1),
        ("min(4, 2, 9)", 2),
        ("max(items)", 3),
        ("max('a', 'b')", "b"),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("round(1234, -2)", 1200),
        ("abs(-3)", 3),
        ("lower('AbC')", "abc"),
        ("upper(customer.tier)", "GOLD"),
        ("trim(name)", "Ada Lovelace"),
        ("int('42')", 42),
        ("int(3.9)", 3),
        ("float('2.5')", 2.5),
        ("str(12)", "12"),
        ("str(2.5)", "2.5"),
        ("str(due)", "2026-03-05"),
        ("bool(empty)", False),
        ("bool('x')", True),
        ("contains(tags, 'vip')", True),
        ("contains(name, 'Love')", True),
        ("contains(customer, 'tier')", True),
        ("startswith(trim(name), 'Ada')", True),
        ("endswith('report.pdf', '.pdf')", True),
        ("any([0, '', 3])", True),
        ("all([1, 'x', empty])", False),
        ("sorted(items)", [1, 2, 3]),
        ("sorted(tags)", ["eu", "vip"]),
        ("count([1, 2, 1], 1)", 2),
        ("count('banana', 'an')", 2),
        ("days(2)", timedelta(days=2)),
        ("hours(1.5)", timedelta(minutes=90)),
        ("minutes(-5)", timedelta(minutes=-5)),
        ("date('2026-03-05')", date(2026, 3, 5)),
        ("date('2026-03-05T23:00:00+05:00')", date(2026, 3, 5)),
        ("date(created)", date(2026, 3, 1)),
        ("datetime('2026-03-05T10:00:00')", datetime(2026, 3, 5, 10, tzinfo=UTC)),
        ("datetime('2026-03-05T10:00:00Z')", datetime(2026, 3, 5, 10, tzinfo=UTC)),
        ("datetime(due)", datetime(2026, 3, 5, tzinfo=UTC)),
        ("coalesce(nothing, None, 'x')", "x"),
        ("coalesce(nothing)", None),
        ("get(customer, 'tier', 'none')", "gold"),
        ("get(customer, 'nope', 'none')", "none"),
        ("get(customer, 'nope')", None),
        ("get(items, 1)", 1),
        ("get(items, 10, 0)", 0),
        ("get(nothing, 'x', 1)", 1),
        ("count", 7),  # a data field may share a function's name
        ("count + 1", 8),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_datetime_keeps_explicit_offsets() -> None:
    result = ev("datetime('2026-03-05T10:00:00+02:00')")
    assert result.utcoffset() == timedelta(hours=2)
    assert result == datetime(2026, 3, 5, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("len(total)", "len() cannot be used with a number"),
        ("sum(tags)", "sum() cannot be used with a list"),
        ("min([])", "min() of an empty list"),
        ("lower(total)", "lower() needs text, not a number"),
        ("int('abc')", "int() cannot read 'abc' as a whole number"),
        ("float('x')", "float() cannot read 'x' as a number"),
        ("round(1.5, 'a')", "round() needs a whole number of digits"),
        ("round(5, -1000000)", "at most 100 digits"),
        ("days('3')", "days() needs a number, not text"),
        ("days(True)", "days() needs a number"),
        ("days(10 ** 20)", "too long a duration"),
        ("date('next week')", "date() cannot read 'next week' as a date"),
        ("datetime('soon')", "datetime() cannot read 'soon' as a date and time"),
        ("date(5)", "date() needs text"),
        ("count(total, 1)", "count() needs text or a list"),
        ("startswith(1, 'a')", "startswith() needs text"),
        ("get(total, 'a')", "get() needs a record or a list"),
        ("sorted([1, 'a'])", "sorted() cannot be used with a list"),
        ("contains(total, 1)", "contains() cannot be used"),
        ("str(items)", "str() needs a single value such as a number or a date, not a list"),
        ("upper('ß' * 60000)", "the result of upper() would be too long"),
    ],
)
def test_function_misuse_is_an_eval_error(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvalError, match=re.escape(message)):
        ev(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("len()", "len() takes 1 argument (0 given)"),
        ("len(1, 2)", "len() takes 1 argument (2 given)"),
        ("get(a)", "get() takes 2 to 3 arguments (1 given)"),
        ("max()", "max() takes at least 1 argument (0 given)"),
        ("now(1)", "now() takes 0 arguments (1 given)"),
        ("sorted(items, reverse=True)", "does not take named arguments such as 'reverse='"),
        ("max(*items)", "unpacking"),
        ("len(**customer)", "named arguments"),
        ("range(10)", "'range' is not an allowed function (allowed: abs, all, any"),
        ("items.count(1)", "methods such as '.count()' cannot be called"),
    ],
)
def test_bad_calls_are_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source)
    assert message in str(caught.value)
