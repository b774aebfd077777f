from __future__ import annotations

import contextlib
import math
import operator
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.expressions import (
    FUNCTIONS,
    MAX_SOURCE_LENGTH,
    RESERVED_NAMES,
    Expression,
    ExpressionError,
    ExpressionEvalError,
    ExpressionSyntaxError,
    MissingNameError,
    check_expression,
    compile_expression,
    is_truthy,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DATA: dict[str, Any] = {
    "total": 1500,
    "price": 2.5,
    "name": "  Ada Lovelace ",
    "customer": {"tier": "gold", "address": {"city": "Ghent"}, "first name": "Ada"},
    "items": [3, 1, 2],
    "tags": ["vip", "eu"],
    "empty": [],
    "flag": False,
    "nothing": None,
    "due": date(2026, 3, 5),
    "created": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    "count": 7,
}
CONTEXT: dict[str, Any] = {"instance": {"id": "i-1", "key": "orders"}, "task": {"id": "t-9"}}


def ev(source: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return compile_expression(source).evaluate(DATA if data is None else data, **kwargs)


# --- semantics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("'text'", "text"),
        ("True", True),
        ("None", None),
        ("[1, 'a', None]", [1, "a", None]),
        ("(1, 2)", (1, 2)),
        ("{'a': 1, 'b': [2]}", {"a": 1, "b": [2]}),
        ("()", ()),
        ("  total  ", 1500),
    ],
)
def test_literals_evaluate_to_python_values(source: str, expected: Any) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-total", -1500),
        ("+price", 2.5),
        ("not flag", True),
        ("not total", False),
        ("total - 500 - 1000", 0),
        ("price * 2", 5.0),
        ("'ab' + 'cd'", "abcd"),
        ("'ab' * 3", "ababab"),
        ("[1] * 3", [1, 1, 1]),
        ("3 * [0]", [0, 0, 0]),
        ("'ab' * -1", ""),
        ("items + tags", [3, 1, 2, "vip", "eu"]),
        ("2 ** 3 ** 2", 512),
        (" + ".join(["1"] * 200), 200),
    ],
)
def test_arithmetic_follows_python(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("total > 1000", True),
        ("total >= 1500", True),
        ("total < 1000", False),
        ("total <= 1499", False),
        ("total == 1500", True),
        ("total != 1500", False),
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("0 < total <= 1500 != 7", True),
        ("'vip' in tags", True),
        ("'x' not in tags", True),
        ("'Ada' in name", True),
        ("'tier' in customer", True),
        ("nothing is None", True),
        ("total is not None", True),
        ("'a' < 'b'", True),
        ("[1, 2] == [1, 2]", True),
        ("1 == 'a'", False),
        ("due > date('2026-01-01')", True),
    ],
)
def test_comparisons_follow_python(source: str, expected: bool) -> None:
    assert ev(source) is expected


def test_chained_comparison_evaluates_middle_operand_once() -> None:
    assert ev("1 < len(items) < 5") is True
    # The chain stops at the first false link: the missing name is never read.
    assert ev("2 < 1 < missing") is False


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("flag and missing", False),
        ("total or missing", 1500),
        ("0 or '' or 'x'", "x"),
        ("1 and 'y'", "y"),
        ("1 and 2 and 0 and missing", 0),
        ("nothing or empty or 'default'", "default"),
        ("total if total > 1000 else missing", 1500),
        ("missing if flag else 'no'", "no"),
        ("coalesce(nothing, total, missing)", 1500),
    ],
)
def test_and_or_if_and_coalesce_short_circuit(source: str, expected: Any) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.tier", "gold"),
        ("customer['tier']", "gold"),
        ('customer["first name"]', "Ada"),
        ("customer.address.city", "Ghent"),
        ("customer['address']['city']", "Ghent"),
        ("items[0]", 3),
        ("items[-1]", 2),
        ("items[0:2]", [3, 1]),
        ("items[::-1]", [2, 1, 3]),
        ("items[1:]", [1, 2]),
        ("name[2:5]", "Ada"),
        ("tags[len(tags) - 1]", "eu"),
        ("get(customer, 'address').city", "Ghent"),
    ],
)
def test_dotted_and_indexed_access(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_dotted_access_is_key_lookup_never_getattr() -> None:
    data: dict[str, Any] = {"record": {"keys": "a key named keys"}}
    assert ev("record.keys", data) == "a key named keys"
    with pytest.raises(MissingNameError):
        ev("record.items", data)  # dict has an .items method, but no "items" key
    with pytest.raises(ExpressionEvalError, match="not a record"):
        ev("name.upper")


def test_missing_name_raises_with_its_name() -> None:
    with pytest.raises(MissingNameError) as caught:
        ev("totl > 1000")
    assert caught.value.name == "totl"
    assert str(caught.value) == "'totl' is not a field of this instance"
    assert caught.value.message == str(caught.value)
    assert caught.value.expression == "totl > 1000"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("customer.tir", "customer.tir"),
        ("customer.address.zip", "customer.address.zip"),
        ("customer['nope']", "customer['nope']"),
        ("customer.address['x']", "customer.address['x']"),
    ],
)
def test_missing_key_raises_with_its_path(source: str, name: str) -> None:
    with pytest.raises(MissingNameError) as caught:
        ev(source)
    assert caught.value.name == name
    assert isinstance(caught.value, ExpressionEvalError)


def test_missing_key_on_data_is_a_missing_name_not_an_attribute() -> None:
    with pytest.raises(MissingNameError) as caught:
        ev("customer['__class__']")
    assert caught.value.name == "customer['__class__']"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("items[5]", "'items[5]' does not exist: 'items' has 3 entries"),
        ("items['a']", "not a record"),
        ("items[1.5]", "must be a whole number"),
        ("total.amount", "'total' is a number, not a record"),
        ("total[0]", "not a record"),
        ("customer[0:1]", "not text or a list"),
        ("items[::0]", "cannot be zero"),
        ("items['a':]", "whole numbers"),
        ("customer[[1]]", "cannot be used as a field name"),
        ("{[1]: 2}", "cannot be used as a field name"),
    ],
)
def test_bad_lookups_are_eval_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvalError, match=re.escape(message)) as caught:
        ev(source)
    assert not isinstance(caught.value, MissingNameError)


# --- reserved names -----------------------------------------------------------------------


def test_now_and_today_come_from_evaluate() -> None:
    assert ev("now", now=NOW) == NOW
    assert ev("now()", now=NOW) == NOW
    assert ev("today", now=NOW) == date(2026, 3, 2)
    assert ev("today()", now=NOW) == date(2026, 3, 2)
    assert ev("due - today", now=NOW) == timedelta(days=3)
    assert ev("created + days(2) > now", now=NOW) is True
    assert ev("(now - created) / hours(1)", now=NOW) == 21.5
    assert ev("now - minutes(30) == datetime('2026-03-02T09:00:00Z')", now=NOW) is True


def test_today_is_in_the_time_zone_of_now() -> None:
    late = datetime(2026, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert ev("today", now=late) == date(2026, 3, 2)


def test_now_without_a_time_raises_eval_error() -> None:
    with pytest.raises(ExpressionEvalError, match="current time"):
        ev("now > created")


def test_reserved_names_ignore_data() -> None:
    data = {"now": "not a time", "instance": "x", "today": 1}
    assert ev("now", data, now=NOW) == NOW
    assert ev("today", data, now=NOW) == NOW.date()
    with pytest.raises(MissingNameError, match="not available here"):
        ev("instance", data)


def test_instance_and_task_come_from_context() -> None:
    assert ev("instance.key", context=CONTEXT) == "orders"
    assert ev("task['id']", context=CONTEXT) == "t-9"
    with pytest.raises(MissingNameError) as caught:
        ev("task.id", context={"instance": {}})
    assert caught.value.name == "task"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'a' + 1", "cannot add text and a number"),
        ("1 - 'a'", "cannot subtract text from a number"),
        ("customer * 2", "cannot multiply a record by a number"),
        ("'a' < 1", "cannot compare text with a number"),
        ("nothing > 1", "cannot compare an empty value with a number"),
        ("due < '2026-01-01'", "cannot compare a date with text (use date(...)"),
        ("1 in 5", "cannot look for a number in a number"),
        ("-name", "cannot use '-' on text"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("(-8) ** 0.5", "no real-number result"),
        ("'%s' % 1", "'%' works only on numbers"),
        ("'%999999999d' % 1", "'%' works only on numbers"),
        ("days(1) + 1", "cannot add a duration and a number"),
        ("now + days(10 ** 8)", "out of range"),
        ("10.0 ** 400", "out of range"),
        ("1e308 * 10 ** 400", "out of range"),
    ],
)
def test_runtime_failures_have_business_messages(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvalError) as caught:
        ev(source, now=NOW)
    assert message in str(caught.value)
    assert caught.value.expression == source


# --- names, caching, helpers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("1 + 2", set()),
        ("total > 1000 and customer.tier == 'gold'", {"total", "customer"}),
        ("len(items) + sum(amounts)", {"items", "amounts"}),
        ("get(customer, 'tier')", {"customer"}),
        ("now > deadline and today < instance.due and task.id", {"deadline"}),
        ("count + len(count)", {"count"}),
        ("a[b][c.d]", {"a", "b", "c"}),
        ("x if y else z", {"x", "y", "z"}),
        ("{'key': value}", {"value"}),
    ],
)
def test_names_lists_top_level_data_names(source: str, names: set[str]) -> None:
    assert compile_expression(source).names == frozenset(names)


def test_compile_expression_returns_the_cached_object() -> None:
    first = compile_expression("total * 2 + 1")
    assert compile_expression("total * 2 + 1") is first
    assert isinstance(first, Expression)
    assert first.source == "total * 2 + 1"
    assert repr(first) == "Expression('total * 2 + 1')"


def test_check_expression_returns_none_or_the_message() -> None:
    assert check_expression("total > 1") is None
    assert check_expression("open('x')") is not None
    assert (check_expression("1 +") or "").startswith("this is not a valid expression")


def test_syntax_errors_carry_the_expression() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression("a.__class__")
    assert caught.value.expression == "a.__class__"
    assert str(caught.value) == caught.value.message


def test_too_long_expression_says_how_long() -> None:
    source = "1+" * 1172 + "1"
    assert check_expression(source) == "expression is too long (2345 characters, at most 2000)"
    assert MAX_SOURCE_LENGTH == 2000


def test_too_complex_and_too_deep_expressions_are_refused() -> None:
    assert "too complex" in (check_expression("+".join(["x"] * 600)) or "")
    assert "nested too deeply" in (check_expression("-" * 60 + "1") or "")
    assert check_expression("-" * 30 + "1") is None


def test_text_with_invalid_escapes_compiles_without_warnings() -> None:
    assert ev(r"'C:\docs'") == "C:\\docs"


def test_reserved_names_and_functions() -> None:
    assert frozenset({"now", "today", "instance", "task"}) == RESERVED_NAMES
    assert {"len", "coalesce", "get", "days", "datetime", "now", "today"} <= FUNCTIONS
    assert not {"range", "eval", "open", "getattr", "type"} & FUNCTIONS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        (None, False),
        (1, True),
        ("false", True),
        ([0], True),
    ],
)
def test_is_truthy_is_python_truthiness(value: object, expected: bool) -> None:
    assert is_truthy(value) is expected


def test_simple_condition_evaluates_in_microseconds() -> None:
    expression = compile_expression('total > 1000 and customer.tier == "gold"')
    runs = 20_000
    started = time.thread_time()  # processor time, not a loaded machine's wall clock
    for _ in range(runs):
        expression.evaluate(DATA)
    per_run = (time.thread_time() - started) / runs
    assert per_run < 20e-6  # typically about 1 µs; generous for slow CI machines


# --- property-based -----------------------------------------------------------------------


@settings(max_examples=500)
@given(st.text())
def test_random_text_compiles_or_raises_syntax_error(source: str) -> None:
    with contextlib.suppress(ExpressionSyntaxError):
        compile_expression(source)


_TOKENS = [
    "total", "customer", ".", "tier", "items", "[", "]", "(", ")", "0", "1", "2", "-1", "9",
    "'a'", "+", "-", "*", "**", "/", "//", "%", "<", "==", "in", "not", "and", "or", "if",
    "else", ",", ":", "len", "sum", "min", "str", "int", "get", "now", "None", "True", " ",
    "{", "}", "__class__", "_", "lambda", "x",
]  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_random_token_soup_never_raises_a_raw_exception(source: str) -> None:
    with contextlib.suppress(ExpressionError):
        compile_expression(source).evaluate(DATA, now=NOW, context=CONTEXT)


class _Raises:
    """Marks an expected failure (division by zero, a number too large)."""


_RAISES = _Raises()
_PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
_Case = tuple[str, Any]


def _expected(compute: Callable[[], Any]) -> Any:
    try:
        value = compute()
    except (ZeroDivisionError, OverflowError):
        return _RAISES
    if isinstance(value, int) and value.bit_length() > 4000:
        return _RAISES
    return value


def _binary(op: str, left: _Case, right: _Case) -> _Case:
    text = f"({left[0]} {op} {right[0]})"
    if left[1] is _RAISES or right[1] is _RAISES:
        return text, _RAISES
    return text, _expected(lambda: _PY_OPS[op](left[1], right[1]))


def _power(base: _Case, exponent: int) -> _Case:
    text = f"({base[0]} ** {exponent})"
    if base[1] is _RAISES:
        return text, _RAISES
    return text, _expected(lambda: base[1] ** exponent)


def _negate(case: _Case) -> _Case:
    return f"(-{case[0]})", _RAISES if case[1] is _RAISES else -case[1]


_ARITHMETIC = st.recursive(
    st.integers(-20, 20).map(lambda n: (f"({n})", n)),
    lambda children: st.one_of(
        st.builds(_binary, st.sampled_from(sorted(_PY_OPS)), children, children),
        st.builds(_power, children, st.integers(0, 3)),
        st.builds(_negate, children),
    ),
    max_leaves=12,
)


@settings(max_examples=500)
@given(_ARITHMETIC)
def test_random_arithmetic_matches_python(case: _Case) -> None:
    source, expected = case
    expression = compile_expression(source)
    if expected is _RAISES:
        with pytest.raises(ExpressionEvalError):
            expression.evaluate({})
        return
    result = expression.evaluate({})
    assert type(result) is type(expected)
    assert result == expected or (math.isnan(result) and math.isnan(expected))
