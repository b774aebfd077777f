"""Workflow templates: the Jinja2 that ``notify`` steps (``to``, ``subject``, ``body``) and
``http`` steps (``url``, ``headers``, ``body``) are written in, rendered in a sandbox.

Designers write the templates and customers write much of the data (webhook payloads), so
neither is trusted. Jinja2's ``ImmutableSandboxedEnvironment`` keeps templates away from
attributes that start with ``_`` and from changing data; ``TemplateEnvironment`` adds:

- a refusal, before anything runs, of a template that names Python's internals
  (``__class__``, ``__globals__``, ``_TemplateReference__context`` …), uses ``self``, or
  includes, imports or extends other templates; and at run time a refusal, where Jinja2 would
  quietly render nothing, of an unsafe attribute reached by a name built from pieces
  (``|attr('\\x5f\\x5fclass\\x5f\\x5f')``, ``'{0.__class__}'.format(x)``, ``|map(attribute=…)``);
- bounds on the work, checked before a value is built, not after: ``*``, ``**``, ``+``, ``%``,
  ``~``, list and dict literals, ``str.format``, the string methods and the filters that can
  make a large value from a small one (``center``, ``indent``, ``replace``, ``join``,
  ``wordwrap`` …) may not make anything larger than ``MAX_VALUE`` characters; what one
  ``render`` builds in all is bounded (``MAX_WORK``), and so are its loop turns (every
  ``for`` loop's iterable is wrapped as the template is compiled), calls and operations
  (``MAX_STEPS``), its processor time (``MAX_SECONDS``), the numbers it computes
  (``MAX_INT_BITS``), ``range()`` (``MAX_RANGE``), a template's length (``MAX_SOURCE``) and
  the text it renders to (``MAX_OUTPUT``, counted while it is produced, so rendering stops
  there);
- a cache of compiled templates (the same few templates are delivered again and again).

Autoescaping stays off: every channel sends plain text (email is ``text/plain`` only, see
``channels.send_email``), and an HTTP body is JSON built from rendered strings.

A refusal is a ``TemplateRefused``, which is a ``jinja2.TemplateError`` (a notification that
does not render is an incident on its instance) and a ``ValueError``; its message says what
was refused, for the designer who wrote the template.

Rejected: rendering in a subprocess with resource limits (a fork per notification, and the
data pickled across); a thread with a timeout (Python cannot stop it, and one C-level
``'a' * 10**9`` runs to its end regardless); ``signal.alarm`` (main thread only, and the
workers are not); a list of forbidden source patterns alone (a name can be built from pieces
at run time), which is why the checks are made where values are made.
"""

from __future__ import annotations

import functools
import math
import re
import time
import types
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, MappingView
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import (
    do_batch,
    do_center,
    do_format,
    do_indent,
    do_pprint,
    do_replace,
    do_tojson,
    do_urlize,
    do_wordwrap,
    make_attrgetter,
    sync_do_join,
    sync_do_slice,
    sync_do_sum,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined, markup_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    modifies_known_mutable,
)
from jinja2.utils import Namespace, pass_environment, pass_eval_context
from markupsafe import Markup

MAX_SOURCE = 20_000
"""The longest template, in characters."""
MAX_OUTPUT = 100_000
"""The longest text a template renders to."""
MAX_VALUE = 1_000_000
"""The largest value a template may build on the way: a text of this many characters, or a
list or mapping this long when printed (an item counts each time it is referred to)."""
MAX_WORK = 2_000_000
"""All one ``render`` may build, added up (values dropped again included)."""
MAX_STEPS = 25_000
"""Loop turns, calls, filters and operations in one ``render``."""
MAX_SECONDS = 0.2
"""Processor time one ``render`` may take."""
MAX_INT_BITS = 4096
"""The largest whole number a template may compute (about 1,230 digits)."""
MAX_RANGE = 100_000
"""The most numbers ``range()`` may give."""
MAX_WORDS = 10_000
"""The most words ``urlize`` and the most lines ``wordwrap`` handle (both are slow per word)."""
CACHE_SIZE = 2048
"""Compiled templates kept."""


class TemplateRefused(SecurityError, ValueError):
    """A template that reaches for Python's internals or would take too much to render. The
    message says what was refused, for the designer who wrote the template."""


# --- the budget of one render ---------------------------------------------------------------


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    work: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateRefused(
                f"the template does too much: more than {MAX_STEPS:,} loop turns, calls "
                "and operations"
            )
        if self.steps % 16 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise TemplateRefused(f"the template takes too long (more than {MAX_SECONDS} s)")

    def spend(self, size: int) -> None:
        self.work += size
        if self.work > MAX_WORK:
            raise TemplateRefused(
                f"the template builds too much: more than {MAX_WORK:,} characters in all"
            )


_BUDGET: ContextVar[_Budget | None] = ContextVar("stepwise_template_budget", default=None)
"""The budget of the ``render`` running in this thread; none while a template is compiled
(Jinja2 folds constant expressions then), when only the per-value limits apply."""


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


def _check(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise TemplateRefused(
            f"{what} would make a value of {size:,} characters; a template may build at most "
            f"{MAX_VALUE:,}"
        )


def _spend(size: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(size)


def _built(size: int, what: str) -> None:
    """Refuse a value of ``size`` characters before it is built, or count it."""
    _check(size, what)
    _spend(size)


_COLLECTIONS: tuple[type, ...] = (list, tuple, set, frozenset, MappingView)


def _size(value: Any, indent: int = 0) -> int:
    """About how many characters ``value`` takes when printed, counting an item each time it is
    referred to (``[s] * 1000`` is a thousand ``s``); ``indent`` more per line and level, as
    ``tojson(indent=…)`` and ``pprint`` print. Stops counting past ``MAX_VALUE``."""
    if isinstance(value, str | bytes):
        return len(value)
    total = visited = 0
    budget = _BUDGET.get()
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and total <= MAX_VALUE:
        item, depth = stack.pop()
        visited += 1
        if budget is not None and visited % 4096 == 0:  # a long list takes a while
            budget.check_time()
        total += indent * depth
        if isinstance(item, str | bytes | bytearray):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            stack.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, _COLLECTIONS):
            parts: Any = item
            total += 2 + 2 * len(parts)
            stack.extend((part, depth + 1) for part in parts)
        elif isinstance(item, Namespace):
            stack.append((object.__getattribute__(item, "_Namespace__attrs"), depth))
        elif not isinstance(item, Undefined):
            total += 64  # anything else prints as its short repr
    return total


_CODE = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, type, types.ModuleType)


def _text(value: Any) -> str:
    """``str(value)``, refused before it is made when it would be too long, or when it is a
    function (its text tells where Python keeps it in memory)."""
    if isinstance(value, str):
        return value
    if isinstance(value, _CODE):
        name = getattr(value, "__name__", "")
        raise TemplateRefused(f"the template prints the function {name!r}: a call without '()'?")
    _check(_size(value), "printing a value")
    return str(value)


def _gather(values: Iterable[Any], separator: str, what: str) -> list[Any]:
    """``list(values)``, one step an item, refused once the items and the separators between
    them add up to more than ``MAX_VALUE`` characters."""
    gathered: list[Any] = []
    size = 0
    for value in values:
        _step()
        size += _size(value) + (len(separator) if gathered else 0)
        _check(size, what)
        gathered.append(value)
    return gathered


def _count(value: Any, name: str, what: str) -> int:
    if not isinstance(value, int) or abs(value) > MAX_VALUE:
        raise TemplateRefused(f"the filter {what!r}: {name} must be a number up to {MAX_VALUE:,}")
    return value


# --- operators --------------------------------------------------------------------------------


def _number(value: int, what: str) -> int:
    if value.bit_length() > MAX_INT_BITS:
        raise TemplateRefused(
            f"{what} makes a number of about {value.bit_length() * 3 // 10:,} digits; a "
            f"template may compute numbers of up to about {MAX_INT_BITS * 3 // 10:,}"
        )
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _multiply(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS + 1:
            raise TemplateRefused(
                f"'*' makes a number of about {bits * 3 // 10:,} digits; a template may "
                f"compute numbers of up to about {MAX_INT_BITS * 3 // 10:,}"
            )
        return _number(left * right, "'*'")
    sequence, times = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(times, int) and isinstance(sequence, str | bytes | list | tuple) and times > 0:
        _built(_size(sequence) * times, "'*'")
    return left * right


def _power(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        bits = int(right * math.log2(abs(left)))
        if bits > MAX_INT_BITS:
            raise TemplateRefused(
                f"'**' makes a number of about {bits * 3 // 10:,} digits; a template may "
                f"compute numbers of up to about {MAX_INT_BITS * 3 // 10:,}"
            )
    return left**right


def _add(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        return _number(left + right, "'+'")
    for kind in (str, bytes, list, tuple):
        if isinstance(left, kind) and isinstance(right, kind):
            _built(_size(left) + _size(right), "'+'")
    return left + right


_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _padding(numbers: Iterable[str | None], what: str) -> int:
    padding = 0
    for number in numbers:
        if number == "*":
            raise TemplateRefused(f"{what}: a width given as '*' is not allowed in templates")
        if number:
            if len(number) > 9:
                raise TemplateRefused(f"{what}: the width {number} is too large")
            padding += int(number)
    return padding


def _check_percent(text: str | bytes, arguments: Any, what: str) -> None:
    """Refuse ``text % arguments`` (printf-style) when its widths or its arguments would make
    it too long."""
    scan = text.decode("latin-1") if isinstance(text, bytes) else text
    conversions = list(_CONVERSION.finditer(scan))
    padding = _padding((n for match in conversions for n in match.groups()), what)
    used = _size(arguments) * (len(conversions) if isinstance(arguments, Mapping) else 1)
    _check(len(text) + padding + used, what)


# --- str.format -------------------------------------------------------------------------------


class _Formatter(SandboxedFormatter):
    """Jinja2's sandboxed ``str.format``, refusing widths and repeated fields that would make
    the text too long."""

    def __init__(self, env: Any, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.size = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        padding = _padding(re.findall(r"\d+", format_spec), "format()")
        self.size += padding + _size(value)
        _check(self.size, "format()")
        return super().format_field(value, format_spec)


class _EscapeFormatter(_Formatter, SandboxedEscapeFormatter):
    pass


# --- method calls -----------------------------------------------------------------------------


def _check_replace(text: str | bytes, old: Any, new: Any, count: Any, what: str) -> None:
    if not isinstance(old, type(text)) or not isinstance(new, type(text)):
        return
    times = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    _check(len(text) + times * max(len(new) - len(old), 0), what)


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a string (or number) method that would make too large a value; the
    arguments, ``join``'s gathered into a list."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    what = f"{name}()"
    if isinstance(owner, str | bytes) and isinstance(method, types.BuiltinMethodType):
        if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
            _check(max(args[0], len(owner)), what)
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            tab: Any = b"\t" if isinstance(owner, bytes) else "\t"
            if isinstance(tabsize, int):
                _check(len(owner) + owner.count(tab) * max(tabsize, 0), what)
        elif name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            _check_replace(owner, args[0], args[1], count, what)
        elif name == "join" and args:
            return (_gather(args[0], str(owner), what),)
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((_size(v) for v in args[0].values()), default=1)
            _check(len(owner) * max(longest, 1), what)
    elif _is_int(owner) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            _check(length, what)
    return args


def _account(result: Any, sources: Iterable[Any], what: str) -> None:
    """Count a value a call or filter made, unless it is one it was given."""
    if not isinstance(result, str | bytes | list | tuple | dict | set | frozenset):
        return
    if any(result is source for source in sources):
        return
    _built(_size(result), what)


def _builds(method: Any) -> bool:
    """Whether a call makes a new value (a string method, ``dict()``, ``.copy()``), rather than
    return one that exists (``.get()``; a macro's text, counted as it is joined)."""
    if method is dict:
        return True
    owner = getattr(method, "__self__", None)
    if isinstance(owner, str | bytes | int):
        return True
    return getattr(method, "__name__", "") in ("copy", "fromkeys")


# --- filters ----------------------------------------------------------------------------------


def _center(value: Any, width: int = 80) -> str:
    _check(max(_count(width, "its width", "center"), len(str(value))), "the filter 'center'")
    return do_center(value, width)


def _indent(text: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    prefix = len(width) if isinstance(width, str) else _count(width, "its width", "indent")
    lines = len(str(text).splitlines()) + 1
    _check(len(str(text)) + lines * max(prefix, 0), "the filter 'indent'")
    return do_indent(text, width, first, blank)


@pass_eval_context
def _replace(eval_ctx: EvalContext, text: str, old: str, new: str, count: int | None = None) -> str:
    _check_replace(str(text), str(old), str(new), count, "the filter 'replace'")
    return do_replace(eval_ctx, text, old, new, count)


@pass_environment
def _wordwrap(
    environment: Any,
    text: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    width = _count(width, "its width", "wordwrap")
    lines = len(text) // max(width, 1) + text.count("\n") + 1
    if lines > MAX_WORDS:
        raise TemplateRefused(
            f"the filter 'wordwrap' would make {lines:,} lines; it makes at most {MAX_WORDS:,}"
        )
    joint = environment.newline_sequence if wrapstring is None else wrapstring
    _check(len(text) + lines * len(joint), "the filter 'wordwrap'")
    return do_wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens)


@pass_eval_context
def _urlize(eval_ctx: EvalContext, value: str, *args: Any, **kwargs: Any) -> str:
    words = len(str(value).split())
    if words > MAX_WORDS:
        raise TemplateRefused(f"the filter 'urlize' handles at most {MAX_WORDS:,} words")
    extra = sum(len(str(v)) for v in [*args[2:4], kwargs.get("target"), kwargs.get("rel")] if v)
    _check(3 * len(str(value)) + (words + 1) * (extra + 60), "the filter 'urlize'")
    return do_urlize(eval_ctx, value, *args, **kwargs)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_percent(str(value), kwargs or args, "the filter 'format'")
    return do_format(value, *args, **kwargs)


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    return sync_do_join(eval_ctx, _gather(value, str(d), "the filter 'join'"), d)


@pass_environment
def _sum(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    items = []
    for item in iterable:
        _step()
        items.append(item)
    if not all(isinstance(x, int | float) for x in [*items, start]):
        if len(items) > 1000:  # adding lists or texts one by one copies them every time
            raise TemplateRefused("the filter 'sum' adds up at most 1,000 lists")
        _check(_size(start) + sum(_size(x) for x in items), "the filter 'sum'")
    return sync_do_sum(environment, items, None, start)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _count(linecount, "its size", "batch")
    if fill_with is not None:
        _check(linecount * (_size(fill_with) + 2), "the filter 'batch'")
    return do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if _count(slices, "its number of slices", "slice") > MAX_RANGE:
        raise TemplateRefused(f"the filter 'slice' makes at most {MAX_RANGE:,} slices")
    if fill_with is not None:
        _check(slices * (_size(fill_with) + 2), "the filter 'slice'")
    return sync_do_slice(value, slices, fill_with)


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: Any = None) -> Markup:
    step = len(indent) if isinstance(indent, str) else _count(indent or 0, "its indent", "tojson")
    _check(_size(value, indent=max(step, 0) + 1), "the filter 'tojson'")
    return do_tojson(eval_ctx, value, indent)


def _pprint(value: Any) -> str:
    _check(_size(value, indent=2), "the filter 'pprint'")
    return do_pprint(value)


_SAFER_FILTERS: dict[str, Callable[..., Any]] = {
    "batch": _batch,
    "center": _center,
    "format": _format,
    "indent": _indent,
    "join": _join,
    "pprint": _pprint,
    "replace": _replace,
    "slice": _slice,
    "string": _text,
    "sum": _sum,
    "tojson": _tojson,
    "urlize": _urlize,
    "wordwrap": _wordwrap,
}
"""Filters that can make a large value from a small one, checking first."""


_PICKING = frozenset({"attr", "d", "default", "first", "last", "max", "min", "random"})
"""Filters that return a value they were given (or a part of it), which is not counted."""


def _guard(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter ``function``, one step a use, counting the new value it returns."""
    what = f"the filter {name!r}"

    @functools.wraps(function)  # keeps Jinja2's pass_context / pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _step()
        result = function(*args, **kwargs)
        if name not in _PICKING:
            _account(result, args, what)
        return result

    return guarded


def _range(*args: Any) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateRefused(
            f"range() would give {len(numbers):,} numbers; a template may count to {MAX_RANGE:,}"
        )
    return numbers


_range.__name__ = _range.__qualname__ = "range"  # as templates know it


def _finalize(value: Any) -> Any:
    """What ``{{ … }}`` prints: a list or mapping is refused before it is printed when it
    would be too long."""
    if isinstance(value, str | int | float | Undefined) or value is None:
        return value
    text = _text(value)
    _spend(len(text))
    return text


# --- compiling --------------------------------------------------------------------------------

_INTERNAL = re.compile(r"^__.*__$|^_[A-Za-z0-9]+__")
"""Python's special names (``__class__``) and private ones (``_TemplateReference__context``)."""


class _Generator(CodeGenerator):
    """Jinja2's code generator, with ``~`` and literals checked."""

    def _literal(self, write: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        self.write("environment.literal(")
        write(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._literal(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._literal(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target
            super().visit_Tuple(node, frame)
        else:
            self._literal(super().visit_Tuple, node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _refuse_internals(tree: nodes.Template, source: str) -> None:
    """Refuse what a template has no business naming, before it runs."""
    for other in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise TemplateRefused(
            f"line {other.lineno}: templates cannot include, import or extend other templates"
        )
    for name in tree.find_all(nodes.Name):
        if name.name == "self":
            raise TemplateRefused(f"line {name.lineno}: 'self' is not available in templates")
    found: dict[str, int] = {}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Getattr):
            names: list[Any] = [node.attr]
        elif isinstance(node, nodes.Getitem):
            names = [node.arg.value] if isinstance(node.arg, nodes.Const) else []
        elif isinstance(node, nodes.Filter | nodes.Test):
            arguments = [*node.args, *(keyword.value for keyword in node.kwargs)]
            names = [arg.value for arg in arguments if isinstance(arg, nodes.Const)]
        else:
            names = []
        for value in names:
            if isinstance(value, str) and any(_INTERNAL.match(p) for p in value.split(".")):
                found.setdefault(value, node.lineno)
    if found:
        named = sorted(found, key=lambda value: (found[value], source.find(value)))
        raise TemplateRefused(
            f"line {found[named[0]]}: templates may not use {', '.join(map(repr, named))} "
            "(Python's internals are off limits)"
        )


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, refusing what it would quietly render as nothing and
    bounding the work a template makes (see the module's docstring)."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, finalize=_finalize)
        del self.globals["lipsum"]  # paragraphs of filler by the thousand: no use in a message
        self.globals["range"] = _range
        self.filters.update(_SAFER_FILTERS)
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}

    # refusals instead of Jinja2's silent undefined values

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        if modifies_known_mutable(obj, attribute):
            raise TemplateRefused(
                f"templates cannot change data: {attribute!r} would change a {type(obj).__name__}"
            )
        raise TemplateRefused(
            f"templates may not use {attribute!r} (Python's internals are off limits)"
        )

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        if not self.is_safe_callable(obj):
            raise TemplateRefused(f"templates may not call {getattr(obj, '__name__', obj)!r}")
        args = _check_method(obj, args, kwargs)
        result = context.call(obj, *args, **kwargs)
        if _builds(obj):
            _account(result, (getattr(obj, "__self__", None), *args, *kwargs.values()), "a call")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, types.MethodType | types.BuiltinMethodType):
            return None
        if value.__name__ not in ("format", "format_map"):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        mapping = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if mapping:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs = args[0]
                args = ()
            formatter = (
                _EscapeFormatter(self, escape=owner.escape)
                if isinstance(owner, Markup)
                else _Formatter(self)
            )
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(wrapper, value)

    # the bounds

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        try:
            if operator == "*":
                return _multiply(left, right)
            if operator == "**":
                return _power(left, right)
            if operator == "+":
                return _add(left, right)
            if operator == "%" and isinstance(left, str | bytes):
                _check_percent(left, right, "'%'")
                text = left % right
                _spend(len(text))
                return text
            return super().call_binop(context, operator, left, right)
        except OverflowError as exc:
            raise TemplateRefused(f"'{operator}' makes a number too large: {exc}") from exc

    def counted(self, iterable: Iterable[Any]) -> Iterable[Any]:
        """A loop's iterable, a step a turn."""
        budget = _BUDGET.get()
        if budget is None:
            return iterable
        return _turns(iterable, budget)

    def literal(self, value: Any) -> Any:
        """A list, tuple or dict written in the template, once its items are known."""
        _step()
        _built(_size(value), "a list")
        return value

    def joined(self, eval_ctx: EvalContext, pieces: tuple[Any, ...]) -> str:
        """``a ~ b``."""
        _step()
        texts = [_text(piece) for piece in pieces]
        _built(sum(map(len, texts)), "'~'")
        if eval_ctx.autoescape:
            return markup_join(pieces)
        return "".join(texts)

    def concat(self, pieces: Iterable[str]) -> str:
        """The text of a macro, a ``{% set %}``, ``{% filter %}`` or ``{% call %}`` block."""
        texts = pieces if isinstance(pieces, list) else list(pieces)
        _built(sum(map(len, texts)), "a block of the template")
        return "".join(texts)


def _turns(iterable: Iterable[Any], budget: _Budget) -> Iterator[Any]:
    for item in iterable:
        budget.step()
        yield item


@functools.cache
def environment() -> TemplateEnvironment:
    """The one template environment (made on first use)."""
    return TemplateEnvironment()


@functools.lru_cache(maxsize=CACHE_SIZE)
def compile_template(source: str) -> Template:
    """``source`` compiled, or refused (``TemplateRefused``); the last ``CACHE_SIZE`` are kept.

    Raises:
        TemplateRefused: the template is too long, nested too deeply, or names what templates
            may not use.
        jinja2.TemplateSyntaxError: it is not a template.
    """
    if len(source) > MAX_SOURCE:
        raise TemplateRefused(
            f"the template is {len(source):,} characters long; templates may have at most "
            f"{MAX_SOURCE:,}"
        )
    env = environment()
    try:
        tree = env.parse(source)
        _refuse_internals(tree, source)
        for loop in list(tree.find_all(nodes.For)):  # a step a turn
            counted = nodes.EnvironmentAttribute("counted", lineno=loop.lineno)
            loop.iter = nodes.Call(counted, [loop.iter], [], None, None, lineno=loop.lineno)
        return env.from_string(tree)
    except (RecursionError, SyntaxError, MemoryError) as exc:  # Python's compiler gave up
        raise TemplateRefused("the template is nested too deeply") from exc


def problems(value: Any, field: str) -> list[tuple[str, str]]:
    """``(field, why)`` for every template inside ``value`` that would not compile or that
    the sandbox refuses before it runs: what publishing checks, so that a designer hears of
    it before an instance does."""
    if isinstance(value, str):
        if "{" not in value:
            return []
        try:
            compile_template(value)
        except TemplateSyntaxError as exc:
            return [(field, f"the template does not parse: {exc.message} (line {exc.lineno})")]
        except TemplateRefused as exc:
            return [(field, str(exc))]
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in problems(v, f"{field}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in problems(v, f"{field}[{i}]")]
    return []


def _render_text(source: str, context: dict[str, Any]) -> str:
    started = time.thread_time()
    template = compile_template(source)
    budget = _BUDGET.get()
    if budget is not None:  # compiling is not the template's doing (and happens once)
        budget.deadline += time.thread_time() - started
    stream = cast(Generator[str, None, None], template.generate(context))
    pieces: list[str] = []
    size = 0
    try:
        for piece in stream:
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateRefused(
                    f"the template renders to more than {MAX_OUTPUT:,} characters"
                )
            pieces.append(piece)
    finally:
        stream.close()
    return "".join(pieces)


def _render(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_text(value, context) if "{" in value else value
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    return value


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside ``value`` (a string, or dicts and lists of them) as a
    sandboxed Jinja2 template over ``context``; a string without ``{`` is left as it is. Every
    string of one ``value`` shares one budget of work.

    Raises:
        TemplateRefused: the template names what templates may not use, or would take too
            much to render.
        jinja2.TemplateError: it does not render for another reason (a syntax error, an
            attribute of a missing value).
    """
    token = _BUDGET.set(_Budget(deadline=time.thread_time() + MAX_SECONDS))
    try:
        return _render(value, context)
    except TemplateRefused:
        raise
    except SecurityError as exc:  # Jinja2's own refusals, worded as ours
        raise TemplateRefused(str(exc)) from exc
    except RecursionError as exc:
        raise TemplateRefused(
            "the template goes too deep (a macro that calls itself without an end?)"
        ) from exc
    except OverflowError as exc:
        raise TemplateRefused(f"a number in the template is too large: {exc}") from exc
    except MemoryError as exc:
        raise TemplateRefused("the template needs too much memory") from exc
    finally:
        _BUDGET.reset(token)
