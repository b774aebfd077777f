from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.forms import FormValidator, check_form_schema, compile_simple

PACK = {
    "type": "object",
    "required": ["items_checked", "weight_kg"],
    "properties": {
        "items_checked": {"type": "boolean", "const": True, "title": "Checked"},
        "weight_kg": {"type": "number", "exclusiveMinimum": 0, "maximum": 70},
        "parcels": {"type": "integer", "minimum": 1},
        "carrier": {"type": "string", "enum": ["dhl", "ups"]},
        "note": {"type": "string", "minLength": 2, "maxLength": 5},
    },
    "additionalProperties": False,
}


def test_valid_data_has_no_errors():
    assert FormValidator(PACK).errors({"items_checked": True, "weight_kg": 2}) == []


def test_each_failure_is_named_by_its_field():
    errors = FormValidator(PACK).errors({"items_checked": False, "weight_kg": 0, "parcels": 1.5})
    assert [e.split(":")[0] for e in errors] == ["items_checked", "parcels", "weight_kg"]


def test_missing_required_field_is_reported():
    assert "'weight_kg' is a required property" in FormValidator(PACK).errors(
        {"items_checked": True}
    )


def test_schema_outside_the_simple_subset_uses_jsonschema():
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    }
    assert compile_simple(schema) is None
    assert FormValidator(schema).errors({"tags": [1]}) != []
    assert FormValidator(schema).errors({"tags": ["a"]}) == []


def test_bad_schema_is_described():
    assert "not valid JSON Schema" in (check_form_schema({"type": "object", "required": "x"}) or "")
    assert check_form_schema({"type": "string"}) == "a form must describe an object (type: object)"
    assert check_form_schema(PACK) is None


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(-5, 100, allow_nan=False),
    st.text(max_size=7),
    st.sampled_from(["dhl", "ups", "fedex"]),
    st.lists(st.integers(), max_size=2),
)
forms = st.dictionaries(
    st.sampled_from(["items_checked", "weight_kg", "parcels", "carrier", "note", "other"]), values
)


@settings(max_examples=400, deadline=None)
@given(forms)
def test_fast_path_agrees_with_jsonschema(data: dict[str, Any]):
    fast = compile_simple(PACK)
    assert fast is not None
    assert fast(data) == Draft202012Validator(PACK).is_valid(data)


@pytest.mark.parametrize("data", [None, [], "x", 3])
def test_non_objects_fail(data: Any):
    assert FormValidator(PACK).errors(data) != []
