"""Expressions: a small, safe, Python-like language over instance data.

Conditions, ``assign`` values, assignee ``expr``, ``until`` and correlation keys are written by
the people who design workflows and run against data that customers and other systems send, so
they are treated as untrusted text. ``compile_expression`` parses the source with
``ast.parse(mode="eval")``, checks every node against an explicit whitelist and compiles the tree
once into nested Python closures; ``Expression.evaluate`` only calls those closures. Nothing is
ever handed to ``eval``, ``exec`` or ``compile()``, not even trusted input.

This module is the language's public face; each part lives in a module of its own:

- ``engine._expression_compiler``: the whitelist and the closures it compiles to; why this
  design, and the designs rejected;
- ``engine._expression_operators``: the operators and lookups the closures call, within limits;
- ``engine._expression_functions``: the functions an expression may call;
- ``engine._expression_errors``: the errors, the limits, and how messages name values.

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
import tokenize
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any, final

from engine._expression_compiler import RESERVED_NAMES, Compiler
from engine._expression_errors import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    MAX_TOTAL_ITEMS,
    ExpressionError,
    ExpressionEvalError,
    ExpressionSyntaxError,
    MissingNameError,
    kind_of,
)
from engine._expression_functions import FUNCTIONS
from engine._expression_operators import Fn

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_NODES",
    "MAX_SOURCE_LENGTH",
    "MAX_TOTAL_ITEMS",
    "RESERVED_NAMES",
    "Expression",
    "ExpressionError",
    "ExpressionEvalError",
    "ExpressionSyntaxError",
    "MissingNameError",
    "check_expression",
    "compile_expression",
    "is_truthy",
]


def is_truthy(value: object) -> bool:
    """Whether a condition's value counts as true: Python truthiness.

    ``0``, ``0.0``, ``""``, ``[]``, ``{}`` and ``None`` are false; everything else, including the
    text ``"false"``, is true.
    """
    return bool(value)


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

    def __init__(self, source: str, names: frozenset[str], run: Fn) -> None:
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
        except Exception as failure:  # a name of its own: compiled, ``exc`` is typed above
            error = _runtime_error(failure)
            error.expression = self.source
            raise error from failure


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
def compile_expression(source: object) -> Expression:
    """Compile an expression, once: the result is cached by source.

    Raises:
        ExpressionSyntaxError: the text does not parse, uses something not allowed, or is too big.
    """
    if not isinstance(source, str):
        raise ExpressionSyntaxError(f"an expression must be text, not {kind_of(source)}")
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
    except SyntaxError as bad:  # its own name: compiled, each name has one type
        where = f", at character {bad.offset}" if bad.offset else ""
        raise ExpressionSyntaxError(
            f"this is not a valid expression ({bad.msg}{where})", source
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
    compiler = Compiler(text)
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
