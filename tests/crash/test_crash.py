"""The crash test, short: a dozen orders, five kill -9s, on SQLite and on PostgreSQL; and two
nodes on PostgreSQL, one of them killed for good. ``make crash-test`` runs the long one."""

from __future__ import annotations

import os

import pytest

from tests.app.conftest import REQUIRE_ALL, _pg_available
from tests.crash.harness import run

ORDERS = int(os.environ.get("STEPWISE_CRASH_ORDERS", "8"))


def _database(kind: str) -> None:
    if kind == "postgresql" and not _pg_available():
        if REQUIRE_ALL:
            pytest.fail("PostgreSQL is required (STEPWISE_REQUIRE_ALL=1) but not reachable")
        pytest.skip("PostgreSQL not reachable")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_orders_survive_kill_9_with_nothing_lost_or_done_twice(kind, tmp_path):
    _database(kind)
    report = run(kind, orders=ORDERS, kills=5, nodes=1, folder=tmp_path)
    print("\n".join(report.lines()))  # noqa: T201 - the counts are the point
    assert report.kills == 5
    assert report.errors == []
    assert report.finished == ORDERS
    assert report.delivered == ORDERS
    assert report.duplicate_completions == 0
    assert (report.captures, report.labels) == (ORDERS, ORDERS)
    assert report.emails == 3 * ORDERS
    assert report.sms == ORDERS
    assert report.timers_lost == 0
    assert report.audit_mismatches == 0


def test_two_nodes_share_the_work_and_the_survivor_finishes_it(tmp_path):
    _database("postgresql")
    report = run("postgresql", orders=ORDERS, kills=3, nodes=2, folder=tmp_path)
    print("\n".join(report.lines()))  # noqa: T201
    assert report.ok, report.lines() + report.errors
