"""Errors the engine raises for commands that do not apply.

Expected failures while running (a bad expression, a failed call) are not
errors: they come back as incidents in the state. A ``CommandError`` means the
caller asked for something impossible, and the state it passed is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence


class EngineError(Exception):
    """Base of the engine's own errors."""


class CommandError(EngineError):
    """A command that does not apply to the instance as it is.

    Attributes:
        code: stable identifier (``task_not_open``, ``invalid_form``, ...).
        message: what went wrong, in words.
        details: one line per problem, e.g. each way a form fails its schema.
    """

    def __init__(self, code: str, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)
