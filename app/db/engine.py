"""Creating the database engine, with SQLite set up for a web app.

SQLite: WAL (readers never wait for the writer), a busy timeout, and write
transactions begun with ``BEGIN IMMEDIATE`` — SQLAlchemy's documented recipe
(pysqlite's own transaction handling switched off, BEGIN emitted by us) — so
that concurrent writers queue for the lock instead of failing with "database is
locked" when a read transaction tries to upgrade.

Writers of one process also queue in the process (``WriteGate``) before ``BEGIN
IMMEDIATE``: SQLite's busy handler makes a waiting writer poll, sleeping up to 100 ms
between tries, so under load the lock sat free while writers slept and an unlucky one
waited seconds (the API bench's p99 completion was 3 s at 32 drivers). Waiting on a lock in
the process, each writer starts the moment the one before it ends; writers of another
process still meet the busy timeout.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

GATE_TIMEOUT_S = 30.0
"""How long a writer waits in the process's queue; then it goes on to SQLite's own wait."""
_HELD = "stepwise.write_gate"


class WriteGate:
    """One SQLite write transaction at a time in this process, the waiting writers woken in
    turn. Taken at ``BEGIN IMMEDIATE``, given back when the transaction ends (commit,
    rollback, or the connection going back to the pool, whatever happens first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def enter(self, info: dict[str, Any]) -> None:
        if info.get(_HELD):
            return
        info[_HELD] = self._lock.acquire(timeout=GATE_TIMEOUT_S)

    def leave(self, info: dict[str, Any]) -> None:
        if info.pop(_HELD, False):
            self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.locked()


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: Engine) -> WriteGate | None:
    """The SQLite engine's write gate (None on PostgreSQL)."""
    return _GATES.get(engine)


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

        gate = _GATES[engine] = WriteGate()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Reads (GET requests) begin deferred: in WAL they never wait for the writer.
            if conn.get_execution_options().get("stepwise_readonly", False):
                conn.exec_driver_sql("BEGIN")
                return
            gate.enter(conn.info)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                gate.leave(conn.info)
                raise

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _on_end(conn: Any) -> None:
            gate.leave(conn.info)

        @event.listens_for(engine, "checkin")
        @event.listens_for(engine, "close")
        def _on_return(_dbapi_connection: Any, record: Any) -> None:
            if record is not None:
                gate.leave(record.info)

        return engine
    # At most 45 connections a process: two processes stay under PostgreSQL's default 100.
    # Last in, first out: the busy connections are the warm ones, with their prepared
    # statements (psycopg prepares a statement on its fifth use on a connection).
    return create_engine(
        url, echo=echo, pool_size=15, max_overflow=30, pool_pre_ping=True, pool_use_lifo=True
    )


def make_sessionmaker(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions; ``readonly`` ones are for requests that only read: no write lock on SQLite;
    on PostgreSQL no transaction (autocommit). A read there sees what is committed at each
    statement either way (READ COMMITTED), and ends without a ROLLBACK, which would make
    psycopg forget the connection's prepared statements: every GET did, so almost no
    statement was ever prepared, and PostgreSQL parsed and planned each one anew."""
    bind = engine
    if readonly:
        bind = engine.execution_options(stepwise_readonly=True)
        if engine.dialect.name == "postgresql":
            bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind, expire_on_commit=False)
