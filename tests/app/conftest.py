"""Service tests run against a real SQLite file and a real PostgreSQL, each test on its own copy.

A template database is migrated and seeded once per run and per engine; each
test gets a fresh copy of it (a file copy for SQLite, ``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL), so tests never share live data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.main import create_app
from app.seed import seed
from app.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "STEPWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_ALL = os.environ.get("STEPWISE_REQUIRE_ALL") == "1"
ADMIN_PASSWORD = "admin-test-password"


@dataclass
class Template:
    url: str
    passwords: dict[str, str]


def _pg_admin() -> Any:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_available() -> bool:
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _prepare(url: str) -> dict[str, str]:
    engine = make_engine(url)
    upgrade(engine)
    passwords = seed(
        make_sessionmaker(engine), Settings(database_url=url, admin_password=ADMIN_PASSWORD)
    )
    engine.dispose()
    return passwords


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    return Template(url, _prepare(url))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Template]:
    if not _pg_available():
        if REQUIRE_ALL:
            pytest.fail(
                f"PostgreSQL is required (STEPWISE_REQUIRE_ALL=1) but not reachable at {PG_ADMIN_URL}"
            )
        pytest.skip("PostgreSQL not reachable")
    name = f"stepwise_tpl_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    passwords = _prepare(url)
    yield Template(url, passwords)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Template]:
    """A fresh, migrated and seeded database for one test."""
    if request.param == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "stepwise.db"
        shutil.copy(template.url.split("///", 1)[1], path)
        yield Template(f"sqlite:///{path}", template.passwords)
        return
    template = request.getfixturevalue("pg_template")
    name = f"stepwise_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.url.rsplit("/", 1)[1]}"'))
    yield Template(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", template.passwords)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database: Template, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database.url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        run_scheduler=False,
        http_allow="127.0.0.1",  # the local servers that play payment gateway, carrier...
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    yield application
    application.state.intake.close()  # its thread, if a webhook started one
    application.state.engine.dispose()


class Api:
    """A logged-in client: cookie session plus the CSRF header, like the browser."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.username = username

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def login(app: Any, database: Template) -> Callable[[str], TestClient]:
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        password = ADMIN_PASSWORD if username == "admin" else database.passwords[username]
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    yield make  # type: ignore[misc]
    for c in clients:
        c.close()


@pytest.fixture
def anonymous(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)
