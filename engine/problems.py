"""Problems found in a definition, and parsing a definition from JSON with them.

A problem names what it points at (a node, an edge, a field) so that the
designer can mark it, and says what is wrong in words a business user reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import ValidationError

from engine.model import Definition

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a second look) in a definition.

    Attributes:
        code: a stable identifier, e.g. ``unreachable_node``.
        message: what is wrong, for a business user.
        node: the id of the node it concerns, if any.
        edge: the id of the edge it concerns, if any.
        field: the setting it concerns, as a dotted path (``sla.due``), if any.
        severity: ``error`` blocks publishing; ``warning`` does not.
    """

    code: str
    message: str
    node: str | None = None
    edge: str | None = None
    field: str | None = None
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"node {self.node}" if self.node else f"edge {self.edge}" if self.edge else ""
        field = f" ({self.field})" if self.field else ""
        prefix = f"{self.severity}: {where}{field}: " if where else f"{self.severity}: "
        return f"{prefix}{self.message} [{self.code}]"


class DefinitionError(ValueError):
    """A definition that cannot be read at all; ``problems`` says why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


_TYPE_WORDS = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object (a set of named values)",
    "missing": "is required",
    "extra_forbidden": "is not a known setting here",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}


def _words(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "?")
        return f"'{tag}' is not a kind of step (known: {', '.join(_node_types())})"
    if kind == "union_tag_not_found":
        return "needs a 'type' saying what kind of step it is"
    if kind == "string_pattern_mismatch":
        if error.get("loc", ())[-1:] == ("field",):  # a data path (tracking fields)
            return "must be a data field's path, such as shipment.tracking_number"
        return "may use only lower-case letters, digits, '-' and '_'"
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def _node_types() -> tuple[str, ...]:
    from engine.model import NODE_TYPES

    return NODE_TYPES


def _locate(raw: Any, loc: tuple[Any, ...]) -> tuple[str | None, str | None, str | None]:
    """Map a pydantic error location to (node id, edge id, field path)."""
    if len(loc) >= 2 and loc[0] in ("nodes", "edges") and isinstance(loc[1], int):
        items = raw.get(loc[0]) if isinstance(raw, Mapping) else None
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        item_id = item.get("id") if isinstance(item, Mapping) else None
        rest = list(loc[2:])
        if loc[0] == "nodes" and rest and isinstance(item, Mapping) and rest[0] == item.get("type"):
            rest = rest[1:]  # the discriminator tag pydantic puts in the path
        field = ".".join("from" if p == "from_" else str(p) for p in rest) or None
        ident = str(item_id) if item_id is not None else f"#{loc[1] + 1}"
        if loc[0] == "nodes":
            return ident, None, field
        return None, ident, field
    field = ".".join(str(p) for p in loc) or None
    return None, None, field


def problems_from_validation_error(raw: Any, error: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into problems a business user can act on."""
    problems = []
    for item in error.errors():
        loc = tuple(item.get("loc", ()))
        node, edge, field = _locate(raw, loc)
        what = f"'{field}'" if field else "this"
        if node is not None:
            subject = f"Step {node}: {what}"
        elif edge is not None:
            subject = f"Connection {edge}: {what}"
        else:
            subject = f"The workflow's {what}"
        words = _words(item)
        message = f"{subject} {words}" if field else f"{subject} {words}".replace("this ", "", 1)
        problems.append(
            Problem(
                code="invalid_field" if field else "invalid_item",
                message=message,
                node=node,
                edge=edge,
                field=field,
            )
        )
    return problems


def parse_definition(raw: Any) -> Definition:
    """Read a definition from decoded JSON.

    Raises:
        DefinitionError: with one problem per unknown field, wrong type or missing value.
    """
    if not isinstance(raw, Mapping):
        raise DefinitionError([Problem("invalid_item", "A workflow must be a JSON object.")])
    try:
        return Definition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionError(problems_from_validation_error(raw, exc)) from None
