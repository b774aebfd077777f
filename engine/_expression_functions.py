"""The functions an expression may call, by name: the whole library, and nothing else.

Functions live apart from data: ``len(items)`` calls the library's ``len`` even when the data
has a field called ``len``, and a function is never a value that data could hold or an
expression could pass around. ``LIBRARY`` gives each function's arity, checked when the
expression is compiled, and its implementation. ``coalesce``, ``now`` and ``today`` are listed
for their arity only: the compiler evaluates them itself (``coalesce`` lazily, ``now`` and
``today`` from the evaluation's time).

The implementations check their arguments and fail in a business user's words; a ``TypeError``
or ``ValueError`` that escapes them is worded by the compiler from the arguments' kinds. Choices:
``str()`` only of single values (a list as text is Python's rendering, and unbounded);
``datetime()`` of a naive time means UTC; the results of ``BUILDERS`` count towards the
evaluation's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine._expression_errors import MAX_INT_BITS, check_int, fail, kind_of, show

_MAX_ROUND_DIGITS = 100


def _need(name: str, value: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, types):
        fail(f"{name}() needs {what}, not {kind_of(value)}")


def _f_sum(values: Any) -> Any:
    total = sum(values)
    return check_int(total) if type(total) is int else total


def _f_round(value: Any, digits: Any = None) -> Any:
    if digits is None:
        return round(value)
    _need("round", digits, int, "a whole number of digits")
    if abs(digits) > _MAX_ROUND_DIGITS:
        fail(f"round() can keep at most {_MAX_ROUND_DIGITS} digits")
    return round(value, digits)


def _text_function(name: str, method: Callable[[str], str]) -> Callable[[Any], str]:
    def run(value: Any) -> str:
        _need(name, value, str, "text")
        return method(value)

    return run


def _f_int(value: Any) -> int:
    try:
        result = int(value)
    except ValueError:
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
        fail(f"int() cannot read {show(value)} as a whole number")
    return check_int(result)


def _f_float(value: Any) -> float:
    try:
        return float(value)
    except ValueError:
        fail(f"float() cannot read {show(value)} as a number")


def _f_str(value: Any) -> str:
    # Only single values: a list or record as text is Python's rendering, not a business format,
    # and its length is not bounded by the list's.
    if not (value is None or isinstance(value, str | int | float | date | timedelta)):
        fail(f"str() needs a single value such as a number or a date, not {kind_of(value)}")
    return str(value)


def _f_affix(name: str, method: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def run(text: Any, part: Any) -> bool:
        _need(name, text, str, "text")
        _need(name, part, str, "text to look for")
        return method(text, part)

    return run


def _f_count(collection: Any, value: Any) -> int:
    if isinstance(collection, str):
        _need("count", value, str, "text to look for in text")
        return collection.count(value)
    _need("count", collection, (list, tuple), "text or a list")
    return int(collection.count(value))


def _duration(unit: str) -> Callable[[Any], timedelta]:
    def run(amount: Any) -> timedelta:
        if isinstance(amount, bool):
            fail(f"{unit}() needs a number, not {kind_of(amount)}")
        _need(unit, amount, (int, float), "a number")
        try:
            return timedelta(**{unit: amount})
        except OverflowError:
            fail(f"{unit}({show(amount)}) is too long a duration")

    return run


def _f_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time(), UTC)
    else:
        _need("datetime", value, str, "text such as '2024-05-01T14:30:00Z'")
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            fail(f"datetime() cannot read {show(value)} as a date and time")
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _f_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    _need("date", value, str, "text such as '2024-05-01'")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        fail(f"date() cannot read {show(value)} as a date")


def _f_get(container: Any, key: Any, default: Any = None) -> Any:
    if isinstance(container, Mapping):
        try:
            return container.get(key, default)
        except TypeError:
            return default
    if isinstance(container, list | tuple) and isinstance(key, int):
        return container[key] if -len(container) <= key < len(container) else default
    if container is None:
        return default
    fail(f"get() needs a record or a list, not {kind_of(container)}")


def _f_min_max(name: str, pick: Callable[..., Any]) -> Callable[..., Any]:
    def run(*values: Any) -> Any:
        try:
            return pick(*values)
        except ValueError:
            fail(f"{name}() of an empty list")

    return run


# name -> (fewest arguments, most arguments or None for any number, implementation)
LIBRARY: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "len": (1, 1, len),
    "sum": (1, 1, _f_sum),
    "min": (1, None, _f_min_max("min", min)),
    "max": (1, None, _f_min_max("max", max)),
    "round": (1, 2, _f_round),
    "abs": (1, 1, abs),
    "lower": (1, 1, _text_function("lower", str.lower)),
    "upper": (1, 1, _text_function("upper", str.upper)),
    "trim": (1, 1, _text_function("trim", str.strip)),
    "int": (1, 1, _f_int),
    "float": (1, 1, _f_float),
    "str": (1, 1, _f_str),
    "bool": (1, 1, bool),
    "contains": (2, 2, lambda collection, value: value in collection),
    "startswith": (2, 2, _f_affix("startswith", str.startswith)),
    "endswith": (2, 2, _f_affix("endswith", str.endswith)),
    "any": (1, 1, any),
    "all": (1, 1, all),
    "sorted": (1, 1, sorted),
    "count": (2, 2, _f_count),
    "days": (1, 1, _duration("days")),
    "hours": (1, 1, _duration("hours")),
    "minutes": (1, 1, _duration("minutes")),
    "date": (1, 1, _f_date),
    "datetime": (1, 1, _f_datetime),
    "get": (2, 3, _f_get),
    # Compiled specially: coalesce is lazy, now and today read the evaluation's time.
    "coalesce": (1, None, lambda *values: None),
    "now": (0, 0, lambda: None),
    "today": (0, 0, lambda: None),
}

FUNCTIONS: frozenset[str] = frozenset(LIBRARY)
BUILDERS = frozenset({"str", "lower", "upper", "sorted"})  # count towards MAX_TOTAL_ITEMS
ALLOWED = ", ".join(sorted(FUNCTIONS))
