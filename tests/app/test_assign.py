"""Assignment policies through the service (``app/services/assign.py``), both databases."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.app.builders import one_task, publish

Login = Callable[[str], TestClient]


def assignee_of_new(admin: TestClient, key: str) -> str | None:
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    (task,) = started.json()["open_tasks"]
    assignee: str | None = task["assignee"]
    return assignee


def test_round_robin_takes_turns_within_its_role_only(login: Login) -> None:
    admin = login("admin")
    publish(admin, one_task("rota", {"role": "manager", "policy": "round_robin"}))
    publish(admin, one_task("for-mia", {"user": "mia"}))
    assert assignee_of_new(admin, "rota") == "admin"  # the managers: admin and mia
    assert assignee_of_new(admin, "for-mia") == "mia"  # given by name: not a turn of the rota
    assert assignee_of_new(admin, "rota") == "mia"
    assert assignee_of_new(admin, "rota") == "admin"
    assert assignee_of_new(admin, "rota") == "mia"


def test_least_loaded_gives_the_task_to_who_holds_fewest_open_ones(login: Login) -> None:
    admin = login("admin")
    publish(admin, one_task("balance", {"role": "manager", "policy": "least_loaded"}))
    publish(admin, one_task("for-admin", {"user": "admin"}))
    for _ in range(2):
        assert assignee_of_new(admin, "for-admin") == "admin"
    assert assignee_of_new(admin, "balance") == "mia"
    assert assignee_of_new(admin, "balance") == "mia"
    assert assignee_of_new(admin, "balance") == "admin"  # two each now: the first by name
