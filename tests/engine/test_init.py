"""The engine's public surface is pinned: changing it is a decision, not an accident."""

import engine


def test_public_names_are_pinned():
    assert sorted(engine.__all__) == sorted(
        [
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
    )


def test_every_public_name_exists():
    for name in engine.__all__:
        assert getattr(engine, name) is not None
