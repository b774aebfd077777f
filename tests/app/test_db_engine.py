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
