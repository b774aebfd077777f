"""The shipped workflow templates (``templates/*.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine import Definition, parse_definition

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def list_templates(directory: Path = TEMPLATES_DIR) -> list[str]:
    """The keys of the shipped templates, sorted."""
    return sorted(p.stem for p in directory.glob("*.json"))


def read_template(key: str, directory: Path = TEMPLATES_DIR) -> dict[str, Any]:
    """A template's raw JSON."""
    path = directory / f"{key}.json"
    if not path.is_file():
        raise KeyError(key)
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return raw


def load_template(key: str, directory: Path = TEMPLATES_DIR) -> Definition:
    """A template parsed into a definition (raises DefinitionError if it does not parse)."""
    return parse_definition(read_template(key, directory))
