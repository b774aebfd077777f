"""Creating the database engine, with SQLite set up for a web app.

SQLite: WAL (readers never wait for the writer), a busy timeout, and write
transactions begun with ``BEGIN IMMEDIATE`` — SQLAlchemy's documented recipe
(pysqlite's own transaction handling switched off, BEGIN emitted by us) — so
that concurrent writers queue for the lock instead of failing with "database is
locked" when a read transaction tries to upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,  # more than the request threads, so no thread waits on the pool
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Reads (GET requests) begin deferred: in WAL they never wait for the writer.
            readonly = conn.get_execution_options().get("stepwise_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    # at most 45 connections a process: two processes stay under PostgreSQL's default 100
    return create_engine(url, echo=echo, pool_size=15, max_overflow=30, pool_pre_ping=True)


def make_sessionmaker(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions; ``readonly`` ones are for requests that only read (no write lock on SQLite)."""
    bind = engine.execution_options(stepwise_readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
