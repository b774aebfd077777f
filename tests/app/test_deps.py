"""Request dependencies: every request's database session is put away, whatever happened."""

from __future__ import annotations


def checked_out(app) -> int:
    return app.state.engine.pool.checkedout()


def test_a_read_gives_its_connection_back(app, login):
    admin = login("admin")
    assert admin.get("/api/tasks?scope=mine").status_code == 200
    assert admin.get("/api/instances").status_code == 200
    assert checked_out(app) == 0


def test_a_write_gives_its_connection_back(app, login):
    admin = login("admin")
    made = admin.post("/api/workflows", json={"key": "w1", "name": "W1"})
    assert made.status_code == 201, made.text
    assert checked_out(app) == 0


def test_a_refused_write_leaves_nothing_and_gives_its_connection_back(app, login):
    admin = login("admin")
    assert admin.post("/api/workflows", json={"key": "w2", "name": "W2"}).status_code == 201
    again = admin.post("/api/workflows", json={"key": "w2", "name": "Again"})
    assert again.status_code == 409, again.text
    assert checked_out(app) == 0
    assert admin.get("/api/workflows/w2").json()["name"] == "W2"


def test_an_unknown_task_is_a_404_that_gives_its_connection_back(app, login):
    admin = login("admin")
    missing = admin.post("/api/tasks/nope/complete", json={"data": {}})
    assert missing.status_code == 404
    assert checked_out(app) == 0
