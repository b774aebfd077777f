"""Expressions: a small, safe, Python-like language over instance data.

Conditions, ``assign`` values, assignee ``expr``, ``until`` and correlation keys are written by
the people who design workflows and run against data that customers and other systems send, so
they are treated as untrusted text. ``compile_expression`` parses the source with
``ast.parse(mode="eval")``, checks every node against an explicit whitelist and compiles the tree
once into nested Python closures; ``Expression.evaluate`` only calls those closures. Nothing is
ever handed to ``eval``, ``exec`` or ``compile()``, not even trusted input.

Why an AST whitelist compiled to closures:

- no third-party attack surface: the checker and the evaluator are this one file, over the
  standard library's parser, and the whitelist says what is allowed rather than what is not;
- compiled once (and cached): node dispatch, arity checks and constant handling happen at compile
  time, so a condition such as ``total > 1000 and customer.tier == "gold"`` evaluates in about a
  microsecond;
- there is no route to Python objects: ``a.b`` and ``a["b"]`` are both key lookups in data (never
  ``getattr``), functions are called by name only and are never values, and names starting with
  ``_`` are refused.

Designs rejected:

- ``eval`` with a restricted ``__builtins__``: escapes such as ``().__class__.__bases__`` are
  well known, and the style guide forbids ``eval`` on user-written expressions.
- simpleeval: it walks the AST on every evaluation (slow for conditions checked at every step),
  resolves attributes with ``getattr`` behind a blocklist, and has a history of sandbox escapes
  through objects passed in as names (functions' ``__globals__``, modules; e.g. CVE-2026-32640,
  fixed in 1.0.5). It would also add a dependency inside the engine's trust boundary.
- an interpreter walking the AST at each evaluation: as safe, but slower for no gain.
- generating Python source and compiling it: fastest, but puts user text into the compiler.
- a grammar of our own (or JSONLogic, CEL): more code or a third-party runtime, and a language
  that is not the Python-like one the design promises business users.

Semantics are Python's, for the whitelisted subset (see ``Expression.evaluate``), with these
choices: a value is true or false by Python truthiness (``is_truthy``); functions live apart
from data, so a field may be called ``count`` or ``date``; ``is`` only as ``is None`` /
``is not None``; no sets; ``str()`` only of single values (a list as text is Python's rendering,
and unbounded); ``coalesce`` evaluates its arguments lazily; ``%`` only on numbers (on text it
would be printf formatting); ``datetime()`` of a naive time means UTC.

Limits: at most ``MAX_SOURCE_LENGTH`` characters, ``MAX_NODES`` parts and ``MAX_DEPTH`` levels of
nesting; at evaluation, integers of at most ``MAX_INT_BITS`` bits, text and lists of at most
``MAX_ITEMS`` characters or items per value and ``MAX_TOTAL_ITEMS`` built by one evaluation.
The work an evaluation does is thus bounded by the expression's size times the size of the data.
"""

from __future__ import annotations

import ast
import functools
import io
import operator
import tokenize
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn, final

MAX_SOURCE_LENGTH = 2000
MAX_NODES = 500
MAX_DEPTH = 40
MAX_INT_BITS = 4000
MAX_ITEMS = 100_000
MAX_TOTAL_ITEMS = 1_000_000
_MAX_ROUND_DIGITS = 100

RESERVED_NAMES: frozenset[str] = frozenset({"now", "today", "instance", "task"})


# --- errors -------------------------------------------------------------------------------


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


def _kind(value: object) -> str:
    """What a value is, in a business user's words."""
    for types, word in _KINDS:
        if isinstance(value, types):
            return word
    return f"a value of type {type(value).__name__}"


def _show(value: object) -> str:
    """A short rendering of a value for an error message; never costly, never huge."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int) and value.bit_length() > 100:
        return "a very large number"
    if value is None or isinstance(value, int | float | date | timedelta):
        return str(value)
    return _kind(value)


def _fail(message: str) -> NoReturn:
    raise ExpressionEvalError(message)


# --- evaluation helpers -------------------------------------------------------------------

# The environment of one evaluation: [now, context, items still allowed to be built].
_Env = list[Any]
_Fn = Callable[[Mapping[str, Any], _Env], Any]
_NOW, _CONTEXT, _BUDGET = 0, 1, 2
_SEQUENCES = (str, list, tuple)


def _check_int(value: int) -> int:
    if value.bit_length() > MAX_INT_BITS:
        _fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
    return value


def _charge(env: _Env, size: int, what: str) -> None:
    if size > MAX_ITEMS:
        _fail(f"{what} would be too long ({size} characters or items, at most {MAX_ITEMS})")
    env[_BUDGET] -= size
    if env[_BUDGET] < 0:
        _fail(
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


def _add(a: Any, b: Any, env: _Env) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _charge(env, len(a) + len(b), "joining these")
    result = a + b
    return _check_int(result) if type(result) is int else result


def _sub(a: Any, b: Any, env: _Env) -> Any:
    result = a - b
    return _check_int(result) if type(result) is int else result


def _mul(a: Any, b: Any, env: _Env) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        seq, times = a, b
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        seq, times = b, a
    else:
        result = a * b
        return _check_int(result) if type(result) is int else result
    if times <= 0 or not seq:
        return seq[:0]
    size = times * (len(seq) if isinstance(seq, str) else _deep_size(seq, MAX_ITEMS // times + 1))
    _charge(env, size, "repeating this")
    return seq * times


def _mod(a: Any, b: Any, env: _Env) -> Any:
    if isinstance(a, str):
        _fail("'%' works only on numbers (text formatting is not available)")
    return a % b


def _pow(a: Any, b: Any, env: _Env) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
            _fail(f"the result of '**' would be too large (more than {MAX_INT_BITS} bits)")
        return _check_int(a**b)
    result = a**b
    if isinstance(result, complex):
        _fail("'**' has no real-number result here")
    return result


_BINOPS: dict[type[ast.operator], tuple[Callable[[Any, Any, _Env], Any], str]] = {
    ast.Add: (_add, "cannot add {a} and {b}"),
    ast.Sub: (_sub, "cannot subtract {b} from {a}"),
    ast.Mult: (_mul, "cannot multiply {a} by {b}"),
    ast.Div: (lambda a, b, env: a / b, "cannot divide {a} by {b}"),
    ast.FloorDiv: (lambda a, b, env: a // b, "cannot divide {a} by {b}"),
    ast.Mod: (_mod, "cannot take the remainder of {a} divided by {b}"),
    ast.Pow: (_pow, "cannot raise {a} to the power of {b}"),
}

_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
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


def _compare_error(op: type[ast.cmpop], a: object, b: object) -> ExpressionEvalError:
    if op in (ast.In, ast.NotIn):
        return ExpressionEvalError(f"cannot look for {_kind(a)} in {_kind(b)}")
    message = f"cannot compare {_kind(a)} with {_kind(b)}"
    if {type(a), type(b)} & {date, datetime} and str in {type(a), type(b)}:
        message += " (use date(...) or datetime(...) to read text as a date)"
    return ExpressionEvalError(message)


def _lookup(base: Any, key: Any, path: str, base_path: str) -> Any:
    if isinstance(base, Mapping):
        try:
            return base[key]
        except KeyError:
            raise MissingNameError(path) from None
        except TypeError:
            _fail(f"{_kind(key)} cannot be used as a field name")
    if isinstance(base, _SEQUENCES) and not isinstance(key, str):
        if not isinstance(key, int):
            _fail(f"a position in '{base_path}' must be a whole number, not {_kind(key)}")
        try:
            return base[key]
        except IndexError:
            _fail(f"'{path}' does not exist: '{base_path}' has {len(base)} entries")
    _fail(f"'{path}' cannot be looked up: '{base_path}' is {_kind(base)}, not a record")


def _slice(base: Any, lower: Any, upper: Any, step: Any, base_path: str) -> Any:
    if not isinstance(base, _SEQUENCES):
        _fail(f"cannot take a part of '{base_path}': it is {_kind(base)}, not text or a list")
    for bound in (lower, upper, step):
        if bound is not None and not isinstance(bound, int):
            _fail(f"the positions in a slice must be whole numbers, not {_kind(bound)}")
    if step == 0:
        _fail("the step of a slice cannot be zero")
    return base[lower:upper:step]


# --- functions ----------------------------------------------------------------------------


def _need(name: str, value: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, types):
        _fail(f"{name}() needs {what}, not {_kind(value)}")


def _f_sum(values: Any) -> Any:
    total = sum(values)
    return _check_int(total) if type(total) is int else total


def _f_round(value: Any, digits: Any = None) -> Any:
    if digits is None:
        return round(value)
    _need("round", digits, int, "a whole number of digits")
    if abs(digits) > _MAX_ROUND_DIGITS:
        _fail(f"round() can keep at most {_MAX_ROUND_DIGITS} digits")
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
            _fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
        _fail(f"int() cannot read {_show(value)} as a whole number")
    return _check_int(result)


def _f_float(value: Any) -> float:
    try:
        return float(value)
    except ValueError:
        _fail(f"float() cannot read {_show(value)} as a number")


def _f_str(value: Any) -> str:
    # Only single values: a list or record as text is Python's rendering, not a business format,
    # and its length is not bounded by the list's.
    if not (value is None or isinstance(value, str | int | float | date | timedelta)):
        _fail(f"str() needs a single value such as a number or a date, not {_kind(value)}")
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
            _fail(f"{unit}() needs a number, not {_kind(amount)}")
        _need(unit, amount, (int, float), "a number")
        try:
            return timedelta(**{unit: amount})
        except OverflowError:
            _fail(f"{unit}({_show(amount)}) is too long a duration")

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
            _fail(f"datetime() cannot read {_show(value)} as a date and time")
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
        _fail(f"date() cannot read {_show(value)} as a date")


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
    _fail(f"get() needs a record or a list, not {_kind(container)}")


def _f_min_max(name: str, pick: Callable[..., Any]) -> Callable[..., Any]:
    def run(*values: Any) -> Any:
        try:
            return pick(*values)
        except ValueError:
            _fail(f"{name}() of an empty list")

    return run


# name -> (fewest arguments, most arguments or None for any number, implementation)
_FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
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

FUNCTIONS: frozenset[str] = frozenset(_FUNCTIONS)
_BUILDERS = frozenset({"str", "lower", "upper", "sorted"})  # count towards MAX_TOTAL_ITEMS
_ALLOWED = ", ".join(sorted(FUNCTIONS))


def _now(env: _Env) -> datetime:
    now: datetime | None = env[_NOW]
    if now is None:
        _fail("the current time ('now') is not available here")
    return now


def is_truthy(value: object) -> bool:
    """Whether a condition's value counts as true: Python truthiness.

    ``0``, ``0.0``, ``""``, ``[]``, ``{}`` and ``None`` are false; everything else, including the
    text ``"false"``, is true.
    """
    return bool(value)


# --- the compiler -------------------------------------------------------------------------

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FORBIDDEN: dict[type[ast.AST], str] = {
    **dict.fromkeys(_COMPREHENSIONS, "comprehensions such as [x for x in ...] are not allowed"),
    ast.Lambda: "lambda functions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Set: "sets such as {1, 2} are not allowed; use a list such as [1, 2]",
    ast.Slice: "':' can only be used inside [...]",
}


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.names: set[str] = set()

    def fail(self, message: str) -> NoReturn:
        raise ExpressionSyntaxError(message, self.source)

    def path(self, node: ast.expr) -> str:
        segment = ast.get_source_segment(self.source, node)
        return segment if segment and "\n" not in segment else ast.unparse(node)

    def visit(self, node: ast.AST, depth: int) -> _Fn:
        if depth > MAX_DEPTH:
            self.fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        method = _HANDLERS.get(type(node))
        if method is None:
            self.fail(_FORBIDDEN.get(type(node), f"'{type(node).__name__}' is not allowed here"))
        return method(self, node, depth)

    def constant(self, node: ast.Constant, depth: int) -> _Fn:
        value = node.value
        if value is not None and type(value) not in (bool, int, float, str):
            self.fail(f"{_show(value)} is not an allowed value")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            self.fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
        return lambda data, env: value

    def name(self, node: ast.Name, depth: int) -> _Fn:
        name = node.id
        if name.startswith("_"):
            self.fail(f"names starting with '_' are not allowed ('{name}')")
        if name == "now":
            return lambda data, env: _now(env)
        if name == "today":
            return lambda data, env: _now(env).date()
        if name in RESERVED_NAMES:

            def load_context(data: Mapping[str, Any], env: _Env) -> Any:
                context = env[_CONTEXT]
                if context is None or name not in context:
                    raise MissingNameError(name, f"'{name}' is not available here")
                return context[name]

            return load_context
        self.names.add(name)

        def load(data: Mapping[str, Any], env: _Env) -> Any:
            try:
                return data[name]
            except KeyError:
                raise MissingNameError(name) from None

        return load

    def attribute(self, node: ast.Attribute, depth: int) -> _Fn:
        key = node.attr
        if key.startswith("_"):
            self.fail(f"'.{key}' is not allowed: field names after '.' cannot start with '_'")
        if not isinstance(node.value, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            self.fail(f"'.{key}' can only follow a field, such as customer.{key}")
        value = self.visit(node.value, depth + 1)
        path, base_path = self.path(node), self.path(node.value)

        def attribute(data: Mapping[str, Any], env: _Env) -> Any:
            base = value(data, env)
            if type(base) is dict:
                try:
                    return base[key]
                except KeyError:
                    raise MissingNameError(path) from None
            if not isinstance(base, Mapping):
                _fail(f"'{path}' cannot be looked up: '{base_path}' is {_kind(base)}, not a record")
            return _lookup(base, key, path, base_path)

        return attribute

    def subscript(self, node: ast.Subscript, depth: int) -> _Fn:
        value = self.visit(node.value, depth + 1)
        path, base_path = self.path(node), self.path(node.value)
        if isinstance(node.slice, ast.Slice):
            lower, upper, step = (
                self.visit(part, depth + 1) if part is not None else None
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            )

            def part(data: Mapping[str, Any], env: _Env) -> Any:
                return _slice(
                    value(data, env),
                    lower(data, env) if lower else None,
                    upper(data, env) if upper else None,
                    step(data, env) if step else None,
                    base_path,
                )

            return part
        index = self.visit(node.slice, depth + 1)
        return lambda data, env: _lookup(value(data, env), index(data, env), path, base_path)

    def binop(self, node: ast.BinOp, depth: int) -> _Fn:
        # A left-leaning chain such as a + b + c + d is one level, evaluated in a loop, so that
        # long sums neither count as deep nesting nor recurse.
        steps: list[tuple[Callable[[Any, Any, _Env], Any], str, _Fn]] = []
        left: ast.expr = node
        while isinstance(left, ast.BinOp):
            if type(left.op) not in _BINOPS:
                self.fail(f"'{self.path(left)}' uses an operator that is not allowed")
            op, message = _BINOPS[type(left.op)]
            steps.append((op, message, self.visit(left.right, depth + 1)))
            left = left.left
        steps.reverse()
        first = self.visit(left, depth + 1)

        def chain(data: Mapping[str, Any], env: _Env) -> Any:
            a = first(data, env)
            for op, message, right in steps:
                b = right(data, env)
                try:
                    a = op(a, b, env)
                except TypeError:
                    _fail(message.format(a=_kind(a), b=_kind(b)))
            return a

        return chain

    def unaryop(self, node: ast.UnaryOp, depth: int) -> _Fn:
        operand = self.visit(node.operand, depth + 1)
        if isinstance(node.op, ast.Not):
            return lambda data, env: not operand(data, env)
        if not isinstance(node.op, ast.USub | ast.UAdd):
            self.fail(f"'{self.path(node)}' uses an operator that is not allowed")
        op, sign = (operator.neg, "-") if isinstance(node.op, ast.USub) else (operator.pos, "+")

        def unary(data: Mapping[str, Any], env: _Env) -> Any:
            a = operand(data, env)
            try:
                return op(a)
            except TypeError:
                _fail(f"cannot use '{sign}' on {_kind(a)}")

        return unary

    def boolop(self, node: ast.BoolOp, depth: int) -> _Fn:
        values = [self.visit(value, depth + 1) for value in node.values]
        is_and = isinstance(node.op, ast.And)

        def chain(data: Mapping[str, Any], env: _Env) -> Any:
            result = None
            for value in values:
                result = value(data, env)
                if bool(result) is not is_and:
                    return result
            return result

        return chain

    def compare(self, node: ast.Compare, depth: int) -> _Fn:
        for cmpop, operand in zip(node.ops, node.comparators, strict=True):
            if isinstance(cmpop, ast.Is | ast.IsNot) and not (
                isinstance(operand, ast.Constant) and operand.value is None
            ):
                self.fail("'is' can only be used as 'is None' or 'is not None'; use '==' instead")
        left = self.visit(node.left, depth + 1)
        steps = [
            (type(cmpop), _COMPARISONS[type(cmpop)], self.visit(operand, depth + 1))
            for cmpop, operand in zip(node.ops, node.comparators, strict=True)
        ]

        def chain(data: Mapping[str, Any], env: _Env) -> Any:
            a = left(data, env)
            result: Any = True
            for kind, op, right in steps:
                b = right(data, env)
                try:
                    result = op(a, b)
                except TypeError:
                    raise _compare_error(kind, a, b) from None
                if not result:
                    return result
                a = b
            return result

        return chain

    def ifexp(self, node: ast.IfExp, depth: int) -> _Fn:
        test = self.visit(node.test, depth + 1)
        body = self.visit(node.body, depth + 1)
        orelse = self.visit(node.orelse, depth + 1)
        return lambda data, env: body(data, env) if test(data, env) else orelse(data, env)

    def sequence(self, node: ast.List | ast.Tuple, depth: int) -> _Fn:
        items = [self.visit(item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return lambda data, env: tuple(item(data, env) for item in items)
        return lambda data, env: [item(data, env) for item in items]

    def record(self, node: ast.Dict, depth: int) -> _Fn:
        if any(key is None for key in node.keys):
            self.fail("'**' unpacking is not allowed")
        pairs = [
            (self.visit(key, depth + 1), self.visit(value, depth + 1))
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        ]

        def record(data: Mapping[str, Any], env: _Env) -> Any:
            result = {}
            for key, value in pairs:
                k = key(data, env)
                try:
                    result[k] = value(data, env)
                except TypeError:
                    _fail(f"{_kind(k)} cannot be used as a field name")
            return result

        return record

    def call(self, node: ast.Call, depth: int) -> _Fn:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                self.fail(
                    f"methods such as '.{func.attr}()' cannot be called; use the functions {_ALLOWED}"
                )
            self.fail(f"only the allowed functions can be called: {_ALLOWED}")
        name = func.id
        if name not in FUNCTIONS:
            self.fail(f"'{name}' is not an allowed function (allowed: {_ALLOWED})")
        if node.keywords:
            self.fail(
                f"{name}() does not take named arguments such as '{node.keywords[0].arg or '**'}='"
            )
        fewest, most, impl = _FUNCTIONS[name]
        given = len(node.args)
        if given < fewest or (most is not None and given > most):
            wanted = f"{fewest} to {most}" if most else f"at least {fewest}"
            wanted = f"{fewest}" if fewest == most else wanted
            plural = "" if (most or fewest) == 1 else "s"
            self.fail(f"{name}() takes {wanted} argument{plural} ({given} given)")
        args = [self.visit(arg, depth + 1) for arg in node.args]
        if name == "now":
            return lambda data, env: _now(env)
        if name == "today":
            return lambda data, env: _now(env).date()
        if name == "coalesce":

            def coalesce(data: Mapping[str, Any], env: _Env) -> Any:
                for arg in args:
                    value = arg(data, env)
                    if value is not None:
                        return value
                return None

            return coalesce

        builds = name in _BUILDERS

        def call(data: Mapping[str, Any], env: _Env) -> Any:
            values = [arg(data, env) for arg in args]
            try:
                result = impl(*values)
                if builds:
                    _charge(env, len(result), f"the result of {name}()")
                return result
            except TypeError:
                _fail(f"{name}() cannot be used with {' and '.join(_kind(v) for v in values)}")
            except ValueError:
                _fail(f"{name}() cannot use {', '.join(_show(v) for v in values)}")

        return call


_HANDLERS: dict[type[ast.AST], Callable[[_Compiler, Any, int], _Fn]] = {
    ast.Expression: lambda compiler, node, depth: compiler.visit(node.body, depth),
    ast.Constant: _Compiler.constant,
    ast.Name: _Compiler.name,
    ast.Attribute: _Compiler.attribute,
    ast.Subscript: _Compiler.subscript,
    ast.BinOp: _Compiler.binop,
    ast.UnaryOp: _Compiler.unaryop,
    ast.BoolOp: _Compiler.boolop,
    ast.Compare: _Compiler.compare,
    ast.IfExp: _Compiler.ifexp,
    ast.List: _Compiler.sequence,
    ast.Tuple: _Compiler.sequence,
    ast.Dict: _Compiler.record,
    ast.Call: _Compiler.call,
}


# --- the public surface -------------------------------------------------------------------


_RUNTIME_ERRORS: dict[type[Exception], str] = {
    ZeroDivisionError: "division by zero",
    OverflowError: "a number or a date is out of range",
    RecursionError: "the data is nested too deeply for this expression",
    MemoryError: "the expression needs too much memory",
}


def _runtime_error(exc: Exception) -> ExpressionEvalError:
    for kind, message in _RUNTIME_ERRORS.items():
        if isinstance(exc, kind):
            return ExpressionEvalError(message)
    return ExpressionEvalError(
        f"the expression could not be evaluated ({type(exc).__name__}: {exc})"
    )


@final
class Expression:
    """A compiled expression; immutable and safe to share between threads.

    Attributes:
        source: the text the expression was compiled from.
        names: the top-level data names it reads (not functions, not reserved names).
    """

    __slots__ = ("_run", "names", "source")
    source: str
    names: frozenset[str]

    def __init__(self, source: str, names: frozenset[str], run: _Fn) -> None:
        self.source = source
        self.names = names
        self._run = run

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(
        self,
        data: Mapping[str, Any],
        *,
        now: datetime | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate against instance data.

        Args:
            data: the instance data; its keys are the names the expression can use.
            now: the current time (timezone-aware), for ``now`` and ``today``.
            context: values for the reserved names ``instance`` and ``task``.

        Returns:
            The value, as Python computes it: ``and``/``or`` return one of their operands,
            ``a.b`` and ``a["b"]`` look a key up in a record, ``a[0]`` and ``a[1:3]`` index
            lists and text.

        Raises:
            MissingNameError: a name or key is not in the data.
            ExpressionEvalError: any other failure (wrong types, division by zero, a limit).
        """
        try:
            return self._run(data, [now, context, MAX_TOTAL_ITEMS])
        except ExpressionError as exc:
            exc.expression = self.source
            raise
        except Exception as exc:
            error = _runtime_error(exc)
            error.expression = self.source
            raise error from exc


def _count_nodes(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            count += 1
            if count > MAX_NODES:
                break
    return count


def _bracket_depth(text: str) -> int:
    """The deepest nesting of brackets; redundant parentheses leave no trace in the tree."""
    depth = deepest = 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
    return deepest


@functools.lru_cache(maxsize=8192)
def compile_expression(source: str) -> Expression:
    """Compile an expression, once: the result is cached by source.

    Raises:
        ExpressionSyntaxError: the text does not parse, uses something not allowed, or is too big.
    """
    if not isinstance(source, str):
        raise ExpressionSyntaxError(f"an expression must be text, not {_kind(source)}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(
            f"expression is too long ({len(source)} characters, at most {MAX_SOURCE_LENGTH})",
            source,
        )
    if "\x00" in source:
        raise ExpressionSyntaxError("expression contains a null character", source)
    text = source.strip()
    if not text:
        raise ExpressionSyntaxError("expression is empty", source)
    try:
        # Python warns about some valid code (an invalid escape such as "\d", `x is 1`); such
        # warnings are not the user's concern here and must not turn into errors.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f", at character {exc.offset}" if exc.offset else ""
        raise ExpressionSyntaxError(
            f"this is not a valid expression ({exc.msg}{where})", source
        ) from None
    except (ValueError, RecursionError, MemoryError, OverflowError):
        raise ExpressionSyntaxError("this is not a valid expression", source) from None
    try:
        too_deep = _bracket_depth(text) > MAX_DEPTH
    except (tokenize.TokenError, SyntaxError):
        raise ExpressionSyntaxError("this is not a valid expression", source) from None
    if too_deep:
        raise ExpressionSyntaxError(
            f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", source
        )
    nodes = _count_nodes(tree)
    if nodes > MAX_NODES:
        raise ExpressionSyntaxError(
            f"expression is too complex (more than {MAX_NODES} parts)", source
        )
    compiler = _Compiler(text)
    try:
        run = compiler.visit(tree, 0)
    except ExpressionSyntaxError as exc:
        exc.expression = source
        raise
    except RecursionError:
        raise ExpressionSyntaxError("the expression is nested too deeply", source) from None
    return Expression(source, frozenset(compiler.names), run)


def check_expression(source: str) -> str | None:
    """Return None if ``source`` compiles, else the message saying why not."""
    try:
        compile_expression(source)
    except ExpressionSyntaxError as exc:
        return exc.message
    return None
