"""The stack's own floor: a FastAPI app with no Stepwise code in it, for ``floor_bench``.

Three routes, each the least a Stepwise request of that kind could do on the mandated stack
(FastAPI on uvicorn, SQLAlchemy 2 on SQLite or PostgreSQL through psycopg):

- ``GET /hello``: no database; a small JSON answer.
- ``POST /insert``: one SQLAlchemy Core insert of the request's JSON, committed — the "FastAPI
  with one SQLAlchemy Core insert per request" that the API issue gives for scale.
- ``POST /hook`` (``/hook_min``): the statements of an order webhook's transaction, in Core, without the
  signature check, mapping, schema check or the engine: the workflow row and the secrets
  read, the delivery and dead-letter looked up by key (not found), then the instance (its
  state JSON), one data field, the audit event, the outbox row and the delivery inserted, in
  one transaction. ``/hook_min``: only the instance, audit event, outbox row and delivery
  inserts — the least that makes a started instance durable and its delivery idempotent.

Run as ``uvicorn bench.floor_app:app``; ``DATABASE_URL`` names the database (the tables are
made by ``floor_bench`` before the servers start). SQLite gets the app's own engine set-up
(WAL, ``BEGIN IMMEDIATE``, the in-process write gate).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from app.db.engine import make_engine

metadata = MetaData()
rows = Table(
    "floor_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
workflows = Table(
    "floor_workflows",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("published_version", Integer),
    Column("name", String(200)),
)
secrets_ = Table(
    "floor_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_key", String(100), index=True),
    Column("secret", String(100)),
)
deliveries = Table(
    "floor_deliveries",
    metadata,
    Column("workflow_key", String(100), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("instance_id", String(36)),
    Column("received_at", DateTime(timezone=True)),
)
letters = Table(
    "floor_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_key", String(100)),
    Column("idempotency_key", String(200), index=True),
)
instances = Table(
    "floor_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workflow_key", String(100), index=True),
    Column("status", String(20), index=True),
    Column("stage", String(100)),
    Column("state", JSON),
    Column("version", Integer),
    Column("started_at", DateTime(timezone=True)),
)
fields = Table(
    "floor_fields",
    metadata,
    Column("instance_id", String(36), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", String(200), index=True),
)
audits = Table(
    "floor_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), index=True),
    Column("actor", String(100)),
    Column("action", String(100)),
    Column("instance_id", String(36), index=True),
    Column("details", JSON),
)
outbox = Table(
    "floor_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), index=True),
    Column("kind", String(50)),
    Column("payload", JSON),
    Column("status", String(20), index=True),
    Column("created_at", DateTime(timezone=True)),
)


def prepare(url: str) -> None:
    """Make the tables and the one workflow row with its secret (before the servers start)."""
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(workflows).values(key="orders", published_version=1, name="Orders"))
        conn.execute(insert(secrets_).values(workflow_key="orders", secret="s" * 32))
    engine.dispose()


engine: Engine | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """The database engine, when ``DATABASE_URL`` names one; ``FLOOR_THREADS``: the size of
    the threadpool the sync routes run in (anyio's default, 40, when unset), for experiments."""
    global engine
    if "DATABASE_URL" in os.environ:
        engine = make_engine(os.environ["DATABASE_URL"])
    threads = os.environ.get("FLOOR_THREADS")
    if threads:
        anyio.to_thread.current_default_thread_limiter().total_tokens = int(threads)
    yield
    if engine is not None:
        engine.dispose()


def _engine() -> Engine:
    if engine is None:
        raise RuntimeError("set DATABASE_URL for the database routes")
    return engine


app = FastAPI(lifespan=lifespan)


@app.get("/hello")
async def hello() -> dict[str, Any]:
    return {"ok": True}


@app.post("/insert", status_code=201)
def insert_one(body: dict[str, Any]) -> dict[str, Any]:
    with _engine().begin() as conn:
        new_id = conn.execute(
            insert(rows).values(body=json.dumps(body), at=datetime.now(UTC)).returning(rows.c.id)
        ).scalar_one()
    return {"id": new_id}


@app.post("/hook", status_code=202)
def hook(body: dict[str, Any]) -> dict[str, Any]:
    return _start(body, reads=True)


@app.post("/hook_min", status_code=202)
def hook_min(body: dict[str, Any]) -> dict[str, Any]:
    return _start(body, reads=False)


def _start(body: dict[str, Any], *, reads: bool) -> dict[str, Any]:
    key = uuid.uuid4().hex  # every delivery a new one, as in the webhook bench
    now = datetime.now(UTC)
    instance_id = str(uuid.uuid4())
    with _engine().begin() as conn:
        if reads:
            conn.execute(select(workflows).where(workflows.c.key == "orders")).one()
            list(conn.execute(select(secrets_.c.secret).where(secrets_.c.workflow_key == "orders")))
            found = conn.execute(
                select(deliveries).where(
                    deliveries.c.workflow_key == "orders", deliveries.c.idempotency_key == key
                )
            ).first()
            if found is not None:
                return {"instance_id": found.instance_id, "duplicate": True}
            conn.execute(select(letters.c.id).where(letters.c.idempotency_key == key)).first()
        state = {"format": 1, "status": "running", "data": body, "path": [], "tokens": {}}
        conn.execute(
            insert(instances).values(
                id=instance_id,
                workflow_key="orders",
                status="running",
                stage="Received",
                state=state,
                version=1,
                started_at=now,
            )
        )
        if reads:
            conn.execute(
                insert(fields).values(
                    instance_id=instance_id, name="order_id", value=str(body.get("order_id"))
                )
            )
        conn.execute(
            insert(audits).values(
                at=now,
                actor="webhook:orders",
                action="instance.started",
                instance_id=instance_id,
                details={"delivery": key},
            )
        )
        conn.execute(
            insert(outbox).values(
                instance_id=instance_id,
                kind="http",
                payload={"url": "http://127.0.0.1/captures", "body": body},
                status="pending",
                created_at=now,
            )
        )
        conn.execute(
            insert(deliveries).values(
                workflow_key="orders", idempotency_key=key, instance_id=instance_id, received_at=now
            )
        )
    return {"instance_id": instance_id, "duplicate": False}
