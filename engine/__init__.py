"""Stepwise's workflow language and engine: a functional core with no I/O and no clock.

``step(definition, state, command, now) -> (state, effects)`` is the whole
contract; everything else here describes definitions, commands and effects.
"""

from engine import _native  # first: it decides where the modules below load from
from engine.calendar import BusinessCalendar, add_duration, parse_duration
from engine.commands import (
    AssignTask,
    Cancel,
    Command,
    CompleteTask,
    FireTimer,
    HttpFailed,
    HttpResult,
    ReceiveMessage,
    RetryIncident,
    SkipIncident,
    Start,
    SubworkflowFinished,
    TableResult,
    UpdateData,
)
from engine.compiled import Compiled, compile_definition
from engine.effects import (
    CallHttp,
    CancelTask,
    CancelTimer,
    CancelWait,
    CreateTask,
    Effect,
    InstanceFinished,
    RaiseIncident,
    ResolveIncident,
    ScheduleTimer,
    SendNotification,
    SetStage,
    SlaEvent,
    StartSubworkflow,
    TableOperation,
    WaitForMessage,
)
from engine.errors import CommandError, EngineError
from engine.expressions import ExpressionError, compile_expression
from engine.interpreter import step
from engine.model import Definition, Edge
from engine.problems import DefinitionError, Problem, parse_definition
from engine.state import STATE_FORMAT, new_state, open_tasks, upgrade_state
from engine.validation import has_errors, validate

NATIVE: bool = _native.WHY_NOT is None
"""Whether the engine runs compiled (see ``engine._native``); ``_native.WHY_NOT`` says why not."""

__all__ = [
    "NATIVE",
    "STATE_FORMAT",
    "AssignTask",
    "BusinessCalendar",
    "CallHttp",
    "Cancel",
    "CancelTask",
    "CancelTimer",
    "CancelWait",
    "Command",
    "CommandError",
    "Compiled",
    "CompleteTask",
    "CreateTask",
    "Definition",
    "DefinitionError",
    "Edge",
    "Effect",
    "EngineError",
    "ExpressionError",
    "FireTimer",
    "HttpFailed",
    "HttpResult",
    "InstanceFinished",
    "Problem",
    "RaiseIncident",
    "ReceiveMessage",
    "ResolveIncident",
    "RetryIncident",
    "ScheduleTimer",
    "SendNotification",
    "SetStage",
    "SkipIncident",
    "SlaEvent",
    "Start",
    "StartSubworkflow",
    "SubworkflowFinished",
    "TableOperation",
    "TableResult",
    "UpdateData",
    "WaitForMessage",
    "add_duration",
    "compile_definition",
    "compile_expression",
    "has_errors",
    "new_state",
    "open_tasks",
    "parse_definition",
    "parse_duration",
    "step",
    "upgrade_state",
    "validate",
]
