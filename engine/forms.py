"""Task and start forms: JSON Schema, checked with the ``jsonschema`` library.

A validator is built once per form (per definition version) and reused. Forms
that the form builder writes use a small subset of JSON Schema (an object of
typed fields with bounds, lengths, enums and required fields); for those a
checker compiled from the schema answers "valid" several times faster than
``jsonschema``. Anything it does not recognise, and every invalid submission
(for the error messages), goes to ``jsonschema`` itself, so the two can only
disagree on what the fast path claims to understand — a property test holds
them to the same answers there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "format", "readOnly", "$comment"}
)
_FIELD_KEYWORDS = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
}
_OBJECT_KEYWORDS = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "$schema",
}


def check_form_schema(schema: Mapping[str, Any]) -> str | None:
    """None if ``schema`` is a valid JSON Schema for a form, else what is wrong."""
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"the form is not valid JSON Schema{f' at {where}' if where else ''}: {exc.message}"
    if schema.get("type", "object") != "object":
        return "a form must describe an object (type: object)"
    return None


class FormValidator:
    """Checks submitted form data against a form's JSON Schema."""

    __slots__ = ("_fast", "_validator", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft202012Validator(schema)
        self._fast = compile_simple(schema)

    def is_valid(self, data: Any) -> bool:
        if self._fast is not None:
            return self._fast(data)
        return bool(self._validator.is_valid(data))

    def errors(self, data: Any) -> list[str]:
        """Every way ``data`` fails the form, in words; empty when it is fine."""
        if self.is_valid(data):
            return []
        out = []
        for error in sorted(self._validator.iter_errors(data), key=lambda e: list(e.path)):
            field = ".".join(str(p) for p in error.absolute_path)
            out.append(f"{field}: {error.message}" if field else error.message)
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": _is_integer,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _one_of(options: tuple[Any, ...]) -> Check:
    return lambda v: any(_equal(v, o) for o in options)


def _bound(key: str, bound: float) -> Check:
    """A numeric bound; like JSON Schema, it ignores values that are not numbers."""
    if key == "minimum":
        return lambda v: not _is_number(v) or v >= bound
    if key == "maximum":
        return lambda v: not _is_number(v) or v <= bound
    if key == "exclusiveMinimum":
        return lambda v: not _is_number(v) or v > bound
    return lambda v: not _is_number(v) or v < bound


def _length(at_least: bool, bound: int) -> Check:
    if at_least:
        return lambda v: not isinstance(v, str) or len(v) >= bound
    return lambda v: not isinstance(v, str) or len(v) <= bound


def _field_check(schema: Any) -> Check | None:
    if not isinstance(schema, Mapping) or not set(schema) <= _FIELD_KEYWORDS:
        return None
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind not in _TYPES:
            return None
        checks.append(_TYPES[kind])
    if "const" in schema:
        const = schema["const"]
        if isinstance(const, dict | list):
            return None
        checks.append(_one_of((const,)))
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list) or any(isinstance(o, dict | list) for o in options):
            return None
        checks.append(_one_of(tuple(options)))
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            if not _is_number(schema[key]):
                return None
            checks.append(_bound(key, schema[key]))
    for key in ("minLength", "maxLength"):
        if key in schema:
            bound = schema[key]
            if not isinstance(bound, int) or isinstance(bound, bool):
                return None
            checks.append(_length(key == "minLength", bound))
    return checks[0] if len(checks) == 1 else _all_of(tuple(checks))


def _all_of(checks: tuple[Check, ...]) -> Check:
    """Every check holds (a plain loop: ``all()`` over a generator costs more than the checks)."""

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - see the docstring
            if not one(value):
                return False
        return True

    return check


def compile_simple(schema: Mapping[str, Any]) -> Check | None:
    """A fast validity check for a form-builder schema, or None if it uses more than that."""
    if not set(schema) <= _OBJECT_KEYWORDS or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if (
        not isinstance(properties, Mapping)
        or not isinstance(required, list)
        or not isinstance(extra, bool)
    ):
        return None
    if not all(isinstance(r, str) for r in required):
        return None
    fields: dict[str, Check] = {}
    for name, sub in properties.items():
        field_check = _field_check(sub)
        if field_check is None:
            return None
        fields[name] = field_check
    required_names = tuple(dict.fromkeys(required))

    def check(data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        for name in required_names:
            if name not in data:
                return False
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                if not extra:
                    return False
            elif not field(value):
                return False
        return True

    return check
