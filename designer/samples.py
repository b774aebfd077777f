"""Sample values for a JSON Schema: what a test run fills a form with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 8


def sample_for(schema: Mapping[str, Any] | None, *, depth: int = 0) -> Any:
    """A value that satisfies the common JSON Schema keywords of ``schema``.

    Covers what the form builder writes (types, required, const, enum, default,
    numeric bounds, string lengths, array sizes); exotic schemas may need data of
    their own.
    """
    if not schema or depth > _MAX_DEPTH:
        return {} if depth == 0 else None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        return {name: sample_for(sub, depth=depth + 1) for name, sub in props.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [sample_for(schema.get("items", {}), depth=depth + 1) for _ in range(count)]
    if kind == "boolean":
        return True
    if kind in ("number", "integer"):
        low = schema.get("minimum")
        if low is None and "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        value = low if low is not None else 1
        high = schema.get("maximum")
        if high is not None and value > high:
            value = high
        return int(value) if kind == "integer" else float(value)
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return "2026-01-15"
    if schema.get("format") == "date-time":
        return "2026-01-15T10:00:00+00:00"
    text = "sample"
    min_length = int(schema.get("minLength", 0))
    if len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    max_length = schema.get("maxLength")
    return text[: int(max_length)] if max_length is not None else text
