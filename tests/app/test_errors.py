"""Errors as JSON with the right status, for what the database refuses too."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm.exc import StaleDataError

from app import errors


def test_a_stale_version_is_a_409_conflict_not_a_500():
    app = FastAPI()
    errors.install(app)

    @app.post("/change")
    def change() -> None:
        raise StaleDataError("UPDATE statement on table 'instances' expected to update 1 row")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/change")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
