"""Fuzzing the API from its OpenAPI schema (schemathesis), signed in as each kind of person.

Every operation gets ``STEPWISE_FUZZ_EXAMPLES`` generated requests (a few in ``make test``, 200
in ``make fuzz``): no answer may be a server error, and every answer must match the schema
(status codes, content type, body)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import ADMIN_PASSWORD, Template

EXAMPLES = int(os.environ.get("STEPWISE_FUZZ_EXAMPLES", "3"))
ROLES = ("admin", "walt", "anonymous")
# Our handlers check more than the schema says (a cron expression, a key that must exist), and
# accept some input the schema would not: those two checks would flag correct answers.
LENIENT = [checks.positive_data_acceptance, checks.negative_data_rejection]


# The schema is read from an app built at import; its database file is put in place (a copy of
# the migrated, seeded template) by the fixture below, before the first request reaches it.
_DATABASE = Path(tempfile.gettempdir()) / f"stepwise-fuzz-{uuid.uuid4().hex}.db"
APP = create_app(
    Settings(
        database_url=f"sqlite:///{_DATABASE}",
        data_dir=_DATABASE.with_suffix(".data"),
        admin_password=ADMIN_PASSWORD,
        run_scheduler=False,
        seed_demo=False,
    ),
    migrate=False,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_app(sqlite_template: Template) -> Iterator[Any]:
    shutil.copy(sqlite_template.url.split("///", 1)[1], _DATABASE)
    APP.state.fuzz_passwords = sqlite_template.passwords
    yield APP
    APP.state.engine.dispose()
    _DATABASE.unlink(missing_ok=True)
    shutil.rmtree(_DATABASE.with_suffix(".data"), ignore_errors=True)


def _sign_in(app: Any, username: str) -> dict[str, str]:
    """The headers a signed-in browser of that person sends (cookie and CSRF token)."""
    if username == "anonymous":
        return {}
    password = ADMIN_PASSWORD if username == "admin" else app.state.fuzz_passwords[username]
    with TestClient(app) as client:
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf_token"]}


@pytest.fixture(scope="module")
def people(fuzz_app: Any) -> dict[str, dict[str, str]]:
    return {username: _sign_in(fuzz_app, username) for username in ROLES}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 10,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_with_a_server_error_or_off_schema(
    case: Any, people: dict[str, dict[str, str]]
) -> None:
    if case.path == "/api/auth/logout":
        return  # it would sign this fuzzer's sessions out for the operations after it
    for headers in people.values():
        case.call_and_validate(headers={**(case.headers or {}), **headers}, excluded_checks=LENIENT)
