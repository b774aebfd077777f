"""The database engine: SQLite's writers of one process queue in the process (the write gate),
and the gate is given back however a write transaction ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.db.engine import WriteGate, make_engine, make_sessionmaker, write_gate


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with made.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield made
    made.dispose()


def gate_of(engine: Engine) -> WriteGate:
    gate = write_gate(engine)
    assert gate is not None
    return gate


def test_a_write_transaction_holds_the_gate_until_it_commits(engine):
    gate = gate_of(engine)
    with make_sessionmaker(engine)() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert gate.held
        session.commit()
        assert not gate.held


@pytest.mark.parametrize("ending", ["rollback", "close", "error"])
def test_the_gate_is_given_back_however_the_transaction_ends(engine, ending):
    gate = gate_of(engine)
    session = make_sessionmaker(engine)()
    session.execute(text("INSERT INTO t VALUES (1)"))
    assert gate.held
    if ending == "rollback":
        session.rollback()
    elif ending == "close":
        session.close()
    else:
        with pytest.raises(Exception, match="no such table"):
            session.execute(text("INSERT INTO missing VALUES (1)"))
        session.rollback()
    assert not gate.held
    session.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_reads_do_not_take_the_gate(engine):
    gate = gate_of(engine)
    with make_sessionmaker(engine, readonly=True)() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert not gate.held


def test_a_waiting_writer_goes_in_when_the_one_before_it_commits(engine):
    gate = gate_of(engine)
    factory = make_sessionmaker(engine)
    first = factory()
    first.execute(text("INSERT INTO t VALUES (1)"))
    started, done = threading.Event(), threading.Event()

    def second_writer() -> None:
        with factory() as session:
            started.set()
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.commit()
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert started.wait(10)
    assert not done.wait(0.2)  # queued behind the first writer
    first.commit()
    first.close()
    thread.join(10)
    assert done.is_set()
    assert not gate.held
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2]


def test_postgresql_has_no_gate():
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    assert write_gate(engine) is None
    engine.dispose()


@pytest.fixture
def pg_engine(database) -> Iterator[Engine]:
    made = make_engine(database.url)
    yield made
    made.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_postgresql_read_opens_no_transaction(pg_engine):
    with make_sessionmaker(pg_engine, readonly=True)() as session:
        session.execute(text("SELECT 1"))
        assert session.connection().connection.dbapi_connection.info.transaction_status == 0  # IDLE
    with make_sessionmaker(pg_engine)() as session:
        session.execute(text("SELECT 1"))
        assert (
            session.connection().connection.dbapi_connection.info.transaction_status == 2
        )  # INTRANS


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_prepared_statements_outlive_reads_on_the_same_connection(pg_engine):
    """psycopg prepares a statement on its fifth use on a connection and forgets them all at a
    ROLLBACK; reads end without one, so a statement used by writes and reads stays prepared."""
    reads, writes = make_sessionmaker(pg_engine, readonly=True), make_sessionmaker(pg_engine)
    query = text("SELECT count(*) FROM users WHERE username = :name")
    for _ in range(3):
        for factory in (writes, reads):
            with factory() as session:
                session.execute(query, {"name": "admin"})
                if factory is writes:
                    session.commit()
    with pg_engine.connect() as conn:
        prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars()
        assert any("FROM users WHERE username" in s for s in prepared)
