"""The operators an expression's closures call at evaluation, each within the limits.

Python's own operators would do the arithmetic, but not bound it: ``'a' * 10**10``,
``2 ** 10**9`` or a list repeated inside itself would take the whole process. So ``+``, ``*`` and
``**`` check the size of what they would build first, every text or list built is charged to the
evaluation's budget (``MAX_TOTAL_ITEMS``), and ``%`` refuses text (it would be printf formatting).
Lookups (``a.b``, ``a["b"]``, ``a[0]``) and slices are key and index lookups in data, never
``getattr``; their failures name the path as written.

Each evaluation carries an ``Env``: the current time, the context (``instance``, ``task``) and
the budget still left.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from engine._expression_errors import (
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_TOTAL_ITEMS,
    ExpressionEvalError,
    MissingNameError,
    check_int,
    fail,
    kind_of,
)

# The environment of one evaluation: [now, context, items still allowed to be built].
Env = list[Any]
Fn = Callable[[Mapping[str, Any], Env], Any]
NOW, CONTEXT, BUDGET = 0, 1, 2
_SEQUENCES = (str, list, tuple)


def charge(env: Env, size: int, what: str) -> None:
    """Count ``size`` characters or items built against the evaluation's budget."""
    if size > MAX_ITEMS:
        fail(f"{what} would be too long ({size} characters or items, at most {MAX_ITEMS})")
    env[BUDGET] -= size
    if env[BUDGET] < 0:
        fail(
            f"the expression builds too much text or too many list items (at most {MAX_TOTAL_ITEMS})"
        )


_FLAT = frozenset({int, float, bool, type(None), date, datetime, timedelta})


def _deep_size(value: object, cap: int) -> int:
    """Characters and items in ``value``, counting nested lists, records and text; stops past cap.

    A list repeated inside another is scanned once, so that the walk costs at most about ``cap``
    steps even for ``[[0] * 999] * 100``.
    """
    total, stack = 0, [value]
    scanned: dict[int, tuple[int, list[object]]] = {}
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | Mapping):
            entry = scanned.get(id(item))
            if entry is None:
                children = item.values() if isinstance(item, Mapping) else item
                nested = [c for c in children if type(c) not in _FLAT] if len(item) <= cap else []
                entry = scanned[id(item)] = (len(item), nested)
            total += entry[0]
            stack.extend(entry[1])
        else:
            total += 1
    return total


def _add(a: Any, b: Any, env: Env) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        charge(env, len(a) + len(b), "joining these")
    result = a + b
    return check_int(result) if type(result) is int else result


def _sub(a: Any, b: Any, env: Env) -> Any:
    result = a - b
    return check_int(result) if type(result) is int else result


def _mul(a: Any, b: Any, env: Env) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        seq, times = a, b
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        seq, times = b, a
    else:
        result = a * b
        return check_int(result) if type(result) is int else result
    if times <= 0 or not seq:
        return seq[:0]
    size = times * (len(seq) if isinstance(seq, str) else _deep_size(seq, MAX_ITEMS // times + 1))
    charge(env, size, "repeating this")
    return seq * times


def _mod(a: Any, b: Any, env: Env) -> Any:
    if isinstance(a, str):
        fail("'%' works only on numbers (text formatting is not available)")
    return a % b


def _pow(a: Any, b: Any, env: Env) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
            fail(f"the result of '**' would be too large (more than {MAX_INT_BITS} bits)")
        return check_int(a**b)
    result = a**b
    if isinstance(result, complex):
        fail("'**' has no real-number result here")
    return result


BINOPS: dict[type[ast.operator], tuple[Callable[[Any, Any, Env], Any], str]] = {
    ast.Add: (_add, "cannot add {a} and {b}"),
    ast.Sub: (_sub, "cannot subtract {b} from {a}"),
    ast.Mult: (_mul, "cannot multiply {a} by {b}"),
    ast.Div: (lambda a, b, env: a / b, "cannot divide {a} by {b}"),
    ast.FloorDiv: (lambda a, b, env: a // b, "cannot divide {a} by {b}"),
    ast.Mod: (_mod, "cannot take the remainder of {a} divided by {b}"),
    ast.Pow: (_pow, "cannot raise {a} to the power of {b}"),
}

COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


def compare_error(op: type[ast.cmpop], a: object, b: object) -> ExpressionEvalError:
    if op in (ast.In, ast.NotIn):
        return ExpressionEvalError(f"cannot look for {kind_of(a)} in {kind_of(b)}")
    message = f"cannot compare {kind_of(a)} with {kind_of(b)}"
    if {type(a), type(b)} & {date, datetime} and str in {type(a), type(b)}:
        message += " (use date(...) or datetime(...) to read text as a date)"
    return ExpressionEvalError(message)


def lookup(base: Any, key: Any, path: str, base_path: str) -> Any:
    if isinstance(base, Mapping):
        try:
            return base[key]
        except KeyError:
            raise MissingNameError(path) from None
        except TypeError:
            fail(f"{kind_of(key)} cannot be used as a field name")
    if isinstance(base, _SEQUENCES) and not isinstance(key, str):
        if not isinstance(key, int):
            fail(f"a position in '{base_path}' must be a whole number, not {kind_of(key)}")
        try:
            return base[key]
        except IndexError:
            fail(f"'{path}' does not exist: '{base_path}' has {len(base)} entries")
    fail(f"'{path}' cannot be looked up: '{base_path}' is {kind_of(base)}, not a record")


def take_slice(base: Any, lower: Any, upper: Any, step: Any, base_path: str) -> Any:
    if not isinstance(base, _SEQUENCES):
        fail(f"cannot take a part of '{base_path}': it is {kind_of(base)}, not text or a list")
    for bound in (lower, upper, step):
        if bound is not None and not isinstance(bound, int):
            fail(f"the positions in a slice must be whole numbers, not {kind_of(bound)}")
    if step == 0:
        fail("the step of a slice cannot be zero")
    return base[lower:upper:step]
