"""First start: demo data, or without it only the permission roles and an admin."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def fresh(tmp_path: Path, **changes) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'fresh.db'}",
        data_dir=tmp_path / "data",
        run_scheduler=False,
        seed_demo=False,
        **changes,
    )


def test_without_demo_data_the_first_start_makes_only_an_admin(tmp_path):
    app = create_app(fresh(tmp_path, admin_password="a long admin password"))
    assert app.state.first_start == {}  # the operator chose it: nothing to print
    with TestClient(app) as client:
        me = client.post(
            "/api/auth/login", json={"username": "admin", "password": "a long admin password"}
        )
        assert me.status_code == 200, me.text
        client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
        assert sorted(me.json()["roles"]) == ["admin", "designer", "employee"]
        users = client.get("/api/admin/users").json()
        assert [u["username"] for u in users] == ["admin"]
        assert client.get("/api/workflows").json() == []
    app.state.engine.dispose()


def test_a_generated_admin_password_is_given_once(tmp_path):
    first = create_app(fresh(tmp_path))
    (password,) = first.state.first_start.values()
    first.state.engine.dispose()
    again = create_app(fresh(tmp_path))
    assert again.state.first_start == {}
    with TestClient(again) as client:
        login = client.post("/api/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
    again.state.engine.dispose()
