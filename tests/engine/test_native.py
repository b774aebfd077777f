"""The compiled engine is used exactly when its build matches the sources (engine/_native.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import engine
import engine.flow
from engine import _native


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    copy = tmp_path / "engine"
    copy.mkdir()
    for name in _native.MODULES:
        shutil.copy(_native.SOURCE_DIR / f"{name}.py", copy / f"{name}.py")
    return copy


def _stamp(build: Path, made_from: dict[str, str]) -> Path:
    build.mkdir(exist_ok=True)
    (build / _native.STAMP).write_text(json.dumps(made_from))
    return build


def test_the_engine_runs_as_stepwise_engine_says() -> None:
    mode = os.environ.get("STEPWISE_ENGINE", "auto")
    compiled = _native.problem() is None if mode == "auto" else mode == "native"
    assert engine.NATIVE is compiled
    assert Path(engine.flow.__file__ or "").suffix == (".so" if compiled else ".py")


def test_a_build_made_from_these_sources_can_be_used(sources: Path, tmp_path: Path) -> None:
    build = _stamp(tmp_path / "build", _native.fingerprint(sources))
    assert _native.problem(build, sources) is None


def test_an_edited_module_sets_the_whole_build_aside(sources: Path, tmp_path: Path) -> None:
    build = _stamp(tmp_path / "build", _native.fingerprint(sources))
    with (sources / "flow.py").open("a") as source:
        source.write("\n# edited\n")
    assert _native.problem(build, sources) == (
        "engine/flow.py has changed since the compiled build was made"
    )


def test_a_build_for_another_python_is_not_used(sources: Path, tmp_path: Path) -> None:
    build = _stamp(tmp_path / "build", {**_native.fingerprint(sources), "python": "3.99.0"})
    assert _native.problem(build, sources) == "the compiled build was made for another Python"


def test_no_build_and_a_damaged_stamp_say_so(sources: Path, tmp_path: Path) -> None:
    assert "there is no compiled build" in (_native.problem(tmp_path / "none", sources) or "")
    build = tmp_path / "build"
    build.mkdir()
    (build / _native.STAMP).write_text("{not json")
    assert "cannot be read" in (_native.problem(build, sources) or "")


def test_native_mode_without_a_build_is_an_import_error(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match="STEPWISE_ENGINE=native, but there is no compiled"):
        _native.activate("native", tmp_path)
    assert "there is no compiled build" in (_native.activate("auto", tmp_path) or "")
    assert _native.activate("python", tmp_path) == "STEPWISE_ENGINE=python"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ImportError, match="must be auto, python or native"):
        _native.activate("fast")
