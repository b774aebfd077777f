"""Instance state: plain JSON data with a format version.

Saved states carry ``format``; ``upgrade_state`` brings an older one up to
date through a chain of pure functions, each saying why it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

STATE_FORMAT: Final = 1


def new_state() -> dict[str, Any]:
    """The state of an instance before its start."""
    return {
        "format": STATE_FORMAT,
        "status": None,
        "data": {},
        "seq": 0,
        "tokens": {},
        "waits": {},
        "tasks": {},
        "timers": {},
        "joins": {},
        "done": {},
        "stage": None,
        "stages": [],
        "path": [],
        "decisions": [],
        "incidents": {},
    }


_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""format N -> function producing format N + 1. Empty while there is only format 1."""


def upgrade_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a saved state to the current format.

    Raises:
        ValueError: for a format newer than this engine or with no upgrade path.
    """
    current = dict(state)
    version = current.get("format")
    if not isinstance(version, int) or version > STATE_FORMAT:
        raise ValueError(f"unknown state format {version!r}")
    while version < STATE_FORMAT:
        upgrade = _UPGRADES.get(version)
        if upgrade is None:
            raise ValueError(f"no upgrade from state format {version}")
        current = upgrade(current)
        version = current["format"]
    return current


def open_tasks(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The tasks of an instance that are open now, by id."""
    return {k: v for k, v in state.get("tasks", {}).items() if v.get("status") == "open"}
