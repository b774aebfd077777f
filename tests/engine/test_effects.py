"""Effects: every class builds, compares and refuses changes like a frozen dataclass,
whether its ``__init__`` is generated or hand-written for speed."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import engine.effects as effects


@pytest.mark.parametrize("cls", typing.get_args(effects.Effect), ids=lambda c: c.__name__)
def test_each_field_gets_its_own_argument(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls).parameters) == names
    values = {name: f"value of {name}" for name in names}
    effect = cls(**values)
    assert {name: getattr(effect, name) for name in names} == values
    assert effect == cls(**values)
    assert hash(effect) == hash(cls(**values))
    assert effect.to_dict() == {"kind": cls.kind, **values}
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(effect, names[0], "changed")


@pytest.mark.parametrize("cls", typing.get_args(effects.Effect), ids=lambda c: c.__name__)
def test_defaults_match_the_fields(cls: type) -> None:
    parameters = inspect.signature(cls).parameters
    for f in dataclasses.fields(cls):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert parameters[f.name].default == expected, f.name


def test_effects_of_different_kinds_differ() -> None:
    assert effects.CancelTimer(timer_id="t1") != effects.CancelWait(wait_id="t1")
