"""Two commands on one instance at once: both apply, in some order, none lost."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

PARALLEL = {
    "format": 1,
    "key": "two-at-once",
    "name": "Two at once",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "split", "type": "parallel", "name": "Split"},
        {"id": "a", "type": "user_task", "name": "Do A", "assignee": {"user": "walt"}},
        {"id": "b", "type": "user_task", "name": "Do B", "assignee": {"user": "wendy"}},
        {"id": "join", "type": "parallel", "name": "Join"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "split"},
        {"id": "e2", "from": "split", "to": "a"},
        {"id": "e3", "from": "split", "to": "b"},
        {"id": "e4", "from": "a", "to": "join"},
        {"id": "e5", "from": "b", "to": "join"},
        {"id": "e6", "from": "join", "to": "end"},
    ],
}


def complete(
    barrier: threading.Barrier, results: dict[str, int], client: TestClient, name: str, task_id: str
) -> None:
    barrier.wait()
    response = client.post(f"/api/tasks/{task_id}/complete", json={"data": {}})
    results[name] = response.status_code


def test_two_completions_on_one_instance_at_once_both_apply(login):
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "two-at-once", "draft": PARALLEL}).status_code
        == 201
    )
    assert admin.post("/api/workflows/two-at-once/publish").status_code == 201
    for _ in range(3):
        instance = admin.post("/api/workflows/two-at-once/instances", json={"data": {}}).json()
        tasks = {t["assignee"]: t["id"] for t in instance["open_tasks"]}
        walt, wendy = login("walt"), login("wendy")
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        threads = [
            threading.Thread(target=complete, args=(barrier, results, walt, "walt", tasks["walt"])),
            threading.Thread(
                target=complete, args=(barrier, results, wendy, "wendy", tasks["wendy"])
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"walt": 200, "wendy": 200}
        final = admin.get(f"/api/instances/{instance['id']}").json()
        assert final["status"] == "completed"
        assert final["version"] >= 3
