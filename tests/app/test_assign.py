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
    # two each now: in turns, and admin has had none from this pool yet
    assert assignee_of_new(admin, "balance") == "admin"


def test_least_loaded_takes_turns_among_the_people_with_equally_few(login: Login) -> None:
    admin = login("admin")
    publish(admin, one_task("even", {"role": "warehouse", "policy": "least_loaded"}))
    given = []
    for _ in range(3):  # each completed at once: everyone stays at no open tasks
        instance = admin.post("/api/workflows/even/instances", json={"data": {}}).json()
        (task,) = instance["open_tasks"]
        given.append(task["assignee"])
        done = login(task["assignee"]).post(f"/api/tasks/{task['id']}/complete", json={"data": {}})
        assert done.status_code == 200, done.text
    assert sorted(given) == ["mia", "walt", "wendy"]  # not mia three times
