"""The expression language's errors, the limits that raise them, and how messages name values.

This is the bottom of the expression modules and imports none of them. Every message speaks a
business user's words: values are described by what they are ("a number", "text", "a record"),
never by Python type names, and never shown in full (``show`` keeps a message short and cheap
even for a huge value).

The limits are here rather than beside the code that enforces them so that one place says how
much an expression may be and do; ``engine.expressions`` documents what they mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import NoReturn

MAX_SOURCE_LENGTH = 2000
MAX_NODES = 500
MAX_DEPTH = 40
MAX_INT_BITS = 4000
MAX_ITEMS = 100_000
MAX_TOTAL_ITEMS = 1_000_000


class ExpressionError(Exception):
    """An expression that cannot be compiled or evaluated.

    Attributes:
        message: what went wrong, in words a business user understands; also ``str(error)``.
        expression: the source of the expression.
    """

    def __init__(self, message: str, expression: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


class ExpressionSyntaxError(ExpressionError):
    """Bad syntax, a construct that is not allowed, or an expression too big; found at compile time."""


class ExpressionEvalError(ExpressionError):
    """A failure while evaluating: a wrong type, a division by zero, a limit exceeded."""


class MissingNameError(ExpressionEvalError):
    """A name or key that is not in the data.

    Attributes:
        name: the path as written, e.g. ``customer.tier``.
    """

    def __init__(self, name: str, message: str | None = None, expression: str = "") -> None:
        super().__init__(message or f"'{name}' is not a field of this instance", expression)
        self.name = name


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "an empty value"),
    (bool, "true/false"),  # before int: bool is an int in Python
    ((int, float), "a number"),
    (str, "text"),
    ((list, tuple), "a list"),
    (Mapping, "a record"),
    (datetime, "a date and time"),  # before date: datetime is a date in Python
    (date, "a date"),
    (timedelta, "a duration"),
)


def kind_of(value: object) -> str:
    """What a value is, in a business user's words."""
    for types, word in _KINDS:
        if isinstance(value, types):
            return word
    return f"a value of type {type(value).__name__}"


def show(value: object) -> str:
    """A short rendering of a value for an error message; never costly, never huge."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int) and value.bit_length() > 100:
        return "a very large number"
    if value is None or isinstance(value, int | float | date | timedelta):
        return str(value)
    return kind_of(value)


def fail(message: str) -> NoReturn:
    """Stop an evaluation with ``message``; failures found at compile time are syntax errors."""
    raise ExpressionEvalError(message)


def check_int(value: int) -> int:
    """``value``, if it has at most ``MAX_INT_BITS`` bits."""
    if value.bit_length() > MAX_INT_BITS:
        fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
    return value
