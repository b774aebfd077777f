"""The compiler: an AST whitelist, compiled once into nested Python closures.

``Compiler.visit`` walks the tree ``ast.parse(mode="eval")`` gives, refuses every node type not
in ``_HANDLERS`` (``_FORBIDDEN`` says why for the usual suspects) and returns, for each node, a
closure ``(data, env) -> value``. Node dispatch, arity checks and constants are settled here,
once; evaluating only calls closures.

Why an AST whitelist compiled to closures:

- no third-party attack surface: the checker and the evaluator are these few modules, over the
  standard library's parser, and the whitelist says what is allowed rather than what is not;
- compiled once (and cached by ``compile_expression``): node dispatch, arity checks and constant
  handling happen at compile time, so a condition such as ``total > 1000 and customer.tier ==
  "gold"`` evaluates in about a microsecond;
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
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from engine._expression_errors import (
    MAX_DEPTH,
    MAX_INT_BITS,
    ExpressionSyntaxError,
    MissingNameError,
    fail,
    kind_of,
    show,
)
from engine._expression_functions import ALLOWED, BUILDERS, FUNCTIONS, LIBRARY
from engine._expression_operators import (
    BINOPS,
    COMPARISONS,
    CONTEXT,
    NOW,
    Env,
    Fn,
    charge,
    compare_error,
    lookup,
    take_slice,
)

RESERVED_NAMES: frozenset[str] = frozenset({"now", "today", "instance", "task"})


def _now(env: Env) -> datetime:
    now: datetime | None = env[NOW]
    if now is None:
        fail("the current time ('now') is not available here")
    return now


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


class Compiler:
    """Compiles the tree of one source; ``names`` collects the data names it reads.

    ``self.fail`` refuses the source (a syntax error, at compile time); the closures it returns
    call the module-level ``fail`` (an evaluation error).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.names: set[str] = set()

    def fail(self, message: str) -> NoReturn:
        raise ExpressionSyntaxError(message, self.source)

    def path(self, node: ast.expr) -> str:
        segment = ast.get_source_segment(self.source, node)
        return segment if segment and "\n" not in segment else ast.unparse(node)

    def visit(self, node: ast.AST, depth: int) -> Fn:
        if depth > MAX_DEPTH:
            self.fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        method = _HANDLERS.get(type(node))
        if method is None:
            self.fail(_FORBIDDEN.get(type(node), f"'{type(node).__name__}' is not allowed here"))
        return method(self, node, depth)

    def constant(self, node: ast.Constant, depth: int) -> Fn:
        value = node.value
        if value is not None and type(value) not in (bool, int, float, str):
            self.fail(f"{show(value)} is not an allowed value")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            self.fail(f"a number is too large (more than {MAX_INT_BITS} bits)")
        return lambda data, env: value

    def name(self, node: ast.Name, depth: int) -> Fn:
        name = node.id
        if name.startswith("_"):
            self.fail(f"names starting with '_' are not allowed ('{name}')")
        if name == "now":
            return lambda data, env: _now(env)
        if name == "today":
            return lambda data, env: _now(env).date()
        if name in RESERVED_NAMES:

            def load_context(data: Mapping[str, Any], env: Env) -> Any:
                context = env[CONTEXT]
                if context is None or name not in context:
                    raise MissingNameError(name, f"'{name}' is not available here")
                return context[name]

            return load_context
        self.names.add(name)

        def load(data: Mapping[str, Any], env: Env) -> Any:
            try:
                return data[name]
            except KeyError:
                raise MissingNameError(name) from None

        return load

    def attribute(self, node: ast.Attribute, depth: int) -> Fn:
        key = node.attr
        if key.startswith("_"):
            self.fail(f"'.{key}' is not allowed: field names after '.' cannot start with '_'")
        if not isinstance(node.value, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            self.fail(f"'.{key}' can only follow a field, such as customer.{key}")
        value = self.visit(node.value, depth + 1)
        path, base_path = self.path(node), self.path(node.value)

        def attribute(data: Mapping[str, Any], env: Env) -> Any:
            base = value(data, env)
            if type(base) is dict:
                try:
                    return base[key]
                except KeyError:
                    raise MissingNameError(path) from None
            if not isinstance(base, Mapping):
                fail(
                    f"'{path}' cannot be looked up: '{base_path}' is {kind_of(base)}, not a record"
                )
            return lookup(base, key, path, base_path)

        return attribute

    def subscript(self, node: ast.Subscript, depth: int) -> Fn:
        value = self.visit(node.value, depth + 1)
        path, base_path = self.path(node), self.path(node.value)
        if isinstance(node.slice, ast.Slice):
            lower, upper, step = (
                self.visit(part, depth + 1) if part is not None else None
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            )

            def part(data: Mapping[str, Any], env: Env) -> Any:
                return take_slice(
                    value(data, env),
                    lower(data, env) if lower else None,
                    upper(data, env) if upper else None,
                    step(data, env) if step else None,
                    base_path,
                )

            return part
        index = self.visit(node.slice, depth + 1)
        return lambda data, env: lookup(value(data, env), index(data, env), path, base_path)

    def binop(self, node: ast.BinOp, depth: int) -> Fn:
        # A left-leaning chain such as a + b + c + d is one level, evaluated in a loop, so that
        # long sums neither count as deep nesting nor recurse.
        steps: list[tuple[Callable[[Any, Any, Env], Any], str, Fn]] = []
        left: ast.expr = node
        while isinstance(left, ast.BinOp):
            if type(left.op) not in BINOPS:
                self.fail(f"'{self.path(left)}' uses an operator that is not allowed")
            op, message = BINOPS[type(left.op)]
            steps.append((op, message, self.visit(left.right, depth + 1)))
            left = left.left
        steps.reverse()
        first = self.visit(left, depth + 1)

        def chain(data: Mapping[str, Any], env: Env) -> Any:
            a = first(data, env)
            for op, message, right in steps:
                b = right(data, env)
                try:
                    a = op(a, b, env)
                except TypeError:
                    fail(message.format(a=kind_of(a), b=kind_of(b)))
            return a

        return chain

    def unaryop(self, node: ast.UnaryOp, depth: int) -> Fn:
        operand = self.visit(node.operand, depth + 1)
        if isinstance(node.op, ast.Not):
            return lambda data, env: not operand(data, env)
        if not isinstance(node.op, ast.USub | ast.UAdd):
            self.fail(f"'{self.path(node)}' uses an operator that is not allowed")
        op, sign = (operator.neg, "-") if isinstance(node.op, ast.USub) else (operator.pos, "+")

        def unary(data: Mapping[str, Any], env: Env) -> Any:
            a = operand(data, env)
            try:
                return op(a)
            except TypeError:
                fail(f"cannot use '{sign}' on {kind_of(a)}")

        return unary

    def boolop(self, node: ast.BoolOp, depth: int) -> Fn:
        values = [self.visit(value, depth + 1) for value in node.values]
        is_and = isinstance(node.op, ast.And)

        def chain(data: Mapping[str, Any], env: Env) -> Any:
            result = None
            for value in values:
                result = value(data, env)
                if bool(result) is not is_and:
                    return result
            return result

        return chain

    def compare(self, node: ast.Compare, depth: int) -> Fn:
        for cmpop, operand in zip(node.ops, node.comparators, strict=True):
            if isinstance(cmpop, ast.Is | ast.IsNot) and not (
                isinstance(operand, ast.Constant) and operand.value is None
            ):
                self.fail("'is' can only be used as 'is None' or 'is not None'; use '==' instead")
        left = self.visit(node.left, depth + 1)
        steps = [
            (type(cmpop), COMPARISONS[type(cmpop)], self.visit(operand, depth + 1))
            for cmpop, operand in zip(node.ops, node.comparators, strict=True)
        ]

        def chain(data: Mapping[str, Any], env: Env) -> Any:
            a = left(data, env)
            result: Any = True
            for kind, op, right in steps:
                b = right(data, env)
                try:
                    result = op(a, b)
                except TypeError:
                    raise compare_error(kind, a, b) from None
                if not result:
                    return result
                a = b
            return result

        return chain

    def ifexp(self, node: ast.IfExp, depth: int) -> Fn:
        test = self.visit(node.test, depth + 1)
        body = self.visit(node.body, depth + 1)
        orelse = self.visit(node.orelse, depth + 1)
        return lambda data, env: body(data, env) if test(data, env) else orelse(data, env)

    def sequence(self, node: ast.List | ast.Tuple, depth: int) -> Fn:
        items = [self.visit(item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return lambda data, env: tuple(item(data, env) for item in items)
        return lambda data, env: [item(data, env) for item in items]

    def record(self, node: ast.Dict, depth: int) -> Fn:
        if any(key is None for key in node.keys):
            self.fail("'**' unpacking is not allowed")
        pairs = [
            (self.visit(key, depth + 1), self.visit(value, depth + 1))
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        ]

        def record(data: Mapping[str, Any], env: Env) -> Any:
            result = {}
            for key, value in pairs:
                k = key(data, env)
                try:
                    result[k] = value(data, env)
                except TypeError:
                    fail(f"{kind_of(k)} cannot be used as a field name")
            return result

        return record

    def call(self, node: ast.Call, depth: int) -> Fn:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                self.fail(
                    f"methods such as '.{func.attr}()' cannot be called; use the functions {ALLOWED}"
                )
            self.fail(f"only the allowed functions can be called: {ALLOWED}")
        name = func.id
        if name not in FUNCTIONS:
            self.fail(f"'{name}' is not an allowed function (allowed: {ALLOWED})")
        if node.keywords:
            self.fail(
                f"{name}() does not take named arguments such as '{node.keywords[0].arg or '**'}='"
            )
        fewest, most, impl = LIBRARY[name]
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

            def coalesce(data: Mapping[str, Any], env: Env) -> Any:
                for arg in args:
                    value = arg(data, env)
                    if value is not None:
                        return value
                return None

            return coalesce

        builds = name in BUILDERS

        def call(data: Mapping[str, Any], env: Env) -> Any:
            values = [arg(data, env) for arg in args]
            try:
                result = impl(*values)
                if builds:
                    charge(env, len(result), f"the result of {name}()")
                return result
            except TypeError:
                fail(f"{name}() cannot be used with {' and '.join(kind_of(v) for v in values)}")
            except ValueError:
                fail(f"{name}() cannot use {', '.join(show(v) for v in values)}")

        return call


_HANDLERS: dict[type[ast.AST], Callable[[Compiler, Any, int], Fn]] = {
    ast.Expression: lambda compiler, node, depth: compiler.visit(node.body, depth),
    ast.Constant: Compiler.constant,
    ast.Name: Compiler.name,
    ast.Attribute: Compiler.attribute,
    ast.Subscript: Compiler.subscript,
    ast.BinOp: Compiler.binop,
    ast.UnaryOp: Compiler.unaryop,
    ast.BoolOp: Compiler.boolop,
    ast.Compare: Compiler.compare,
    ast.IfExp: Compiler.ifexp,
    ast.List: Compiler.sequence,
    ast.Tuple: Compiler.sequence,
    ast.Dict: Compiler.record,
    ast.Call: Compiler.call,
}
