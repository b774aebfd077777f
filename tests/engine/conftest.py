from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.factories import Driver


@pytest.fixture(params=[False, True], ids=["in-memory", "reloaded"])
def drive(request: pytest.FixtureRequest) -> Callable[[Mapping[str, Any]], Driver]:
    """A factory of drivers; every scenario runs once as is and once with the state
    saved and reloaded (through JSON) between steps."""

    def make(definition: Mapping[str, Any]) -> Driver:
        return Driver(definition, reload=request.param)

    return make
