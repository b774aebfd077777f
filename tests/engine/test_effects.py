"""Effects: every class builds, compares and converts like a dataclass, whether its
``__init__`` is generated or hand-written for speed."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from datetime import UTC, datetime
from typing import Any

import pytest

import engine.effects as effects


@pytest.mark.parametrize("cls", typing.get_args(effects.Effect), ids=lambda c: c.__name__)
def test_each_field_gets_its_own_argument(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls).parameters) == names
    values = {f.name: _sample(f, index) for index, f in enumerate(dataclasses.fields(cls))}
    effect = cls(**values)
    assert {name: getattr(effect, name) for name in names} == values
    assert effect == cls(**values)
    plain = {
        name: v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
        for name, v in values.items()
    }
    assert effect.to_dict() == {"kind": effect.kind, **plain}
    assert effect != cls(**{**values, names[0]: "another value"})


def _sample(f: dataclasses.Field[Any], index: int) -> Any:
    """A value of the field's type that no other field has (the compiled engine checks types)."""
    if f.type is type:
        return None  # compiled, a union such as ``dict[str, Any] | None`` is only "a type"
    hint = f.type if isinstance(f.type, str) else f.type.__name__  # a class, when compiled
    if hint.startswith("dict"):
        return {"field": f.name}
    if hint.startswith("tuple"):
        return (f.name,)
    if hint.startswith("int"):
        return index
    if hint.startswith("bool"):
        return True
    if hint.startswith("datetime"):
        return datetime(2026, 3, 2, 9, index, tzinfo=UTC)
    return f"value of {f.name}"


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (effects.CreateTask, "create_task"),
        (effects.SlaEvent, "sla_event"),
        (effects.CallHttp, "call_http"),
        (effects.InstanceFinished, "instance_finished"),
    ],
)
def test_kind_is_the_class_name_in_snake_case(cls: type, kind: str) -> None:
    fields = dataclasses.fields(cls)
    assert cls(**{f.name: _sample(f, index) for index, f in enumerate(fields)}).kind == kind


def test_every_effect_has_a_kind_of_its_own() -> None:
    classes = typing.get_args(effects.Effect)
    assert set(effects._KINDS) == set(classes)
    assert len(set(effects._KINDS.values())) == len(classes)


@pytest.mark.parametrize("cls", typing.get_args(effects.Effect), ids=lambda c: c.__name__)
def test_defaults_match_the_fields(cls: type) -> None:
    parameters = inspect.signature(cls).parameters
    for f in dataclasses.fields(cls):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert parameters[f.name].default == expected, f.name


def test_effects_of_different_kinds_differ() -> None:
    assert effects.CancelTimer(timer_id="t1") != effects.CancelWait(wait_id="t1")
