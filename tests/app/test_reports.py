"""Reports: exact figures on a small known history, CSV, the report builder, saved reports.

The history is written with the bulk seeder's ``insert_history`` (the rows the runner writes:
instances, tasks, stage audit events) so that every duration is known to the second; one test
drives a workflow through the API instead, to check that the reports read what the service
itself records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.history import HistoryInstance, HistoryTask, insert_history

T = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
ORDER = "order-management"


def task(node: str, created: datetime, done: timedelta | None, by: str | None, due: timedelta):
    return HistoryTask(
        node=node,
        name={"pick": "Pick items", "pack": "Pack and verify"}[node],
        created_at=created,
        completed_at=created + done if done is not None else None,
        completed_by=by if done is not None else None,
        assignee=by,
        role="warehouse",
        due_at=created + due,
    )


def delivered(start: datetime, end: datetime) -> list[tuple[str, str | None, datetime]]:
    return [
        ("Received", "received", start),
        ("Paid", "confirm", start),
        ("Being prepared", "pick", start),
        ("Delivered", "delivered_email", end),
    ]


def known_history() -> list[HistoryInstance]:
    """A: 1 h, B: 2 h (its pick late), C: cancelled after 4 h, D: still running."""
    a = HistoryInstance(
        ORDER,
        1,
        started_at=T,
        finished_at=T + H,
        data={"order_id": "A", "warehouse": "Berlin", "total": 30},
        stages=delivered(T, T + H),
        tasks=[
            task("pick", T, H / 2, "walt", 4 * H),
            task("pack", T + H / 2, H / 2, "wendy", 2 * H),
        ],
    )
    b_start = T + timedelta(days=1)
    b = HistoryInstance(
        ORDER,
        1,
        started_at=b_start,
        finished_at=b_start + 2 * H,
        data={"order_id": "B", "warehouse": "Berlin", "total": 30},
        stages=delivered(b_start, b_start + 2 * H),
        tasks=[task("pick", b_start, H, "walt", H / 2)],
    )
    c_start = T + timedelta(days=2)
    c = HistoryInstance(
        ORDER,
        1,
        status="cancelled",
        started_at=c_start,
        finished_at=c_start + 4 * H,
        data={"order_id": "C", "warehouse": "Leipzig", "total": 2500.5},
        stages=[("Received", "received", c_start), ("Payment failed", "x", c_start + 4 * H)],
    )
    d = HistoryInstance(
        ORDER,
        1,
        status="running",
        started_at=c_start,
        data={"order_id": "D", "warehouse": "Leipzig", "total": 30, "express": True},
        stages=[("Received", "received", c_start), ("Being prepared", "pick", c_start)],
        tasks=[
            task("pick", c_start, None, "wendy", H),
            task("pack", c_start, None, None, 2 * H),
        ],
    )
    return [a, b, c, d]


@pytest.fixture
def reports(app: Any, login: Callable[[str], TestClient]) -> TestClient:
    """Admin's client, on a database holding ``known_history``."""
    insert_history(app.state.engine, known_history())
    return login("admin")


def rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["rows"]
    return found


def test_reports_are_for_admins_and_managers(app, login, anonymous):
    assert anonymous.get("/api/reports/throughput").status_code == 401
    walt = login("walt").get("/api/reports/throughput")
    assert walt.status_code == 403
    assert walt.json()["error"]["code"] == "forbidden"
    assert login("mia").get("/api/reports/throughput").status_code == 200  # a manager


def test_throughput_counts_starts_and_ends_per_day_with_empty_days_filled(reports):
    got = rows(reports.get("/api/reports/throughput", params={"workflow": ORDER}))
    assert got == [
        {"period": "2026-03-02", "started": 1, "completed": 1, "cancelled": 0, "rejected": 0},
        {"period": "2026-03-03", "started": 1, "completed": 1, "cancelled": 0, "rejected": 0},
        {"period": "2026-03-04", "started": 2, "completed": 0, "cancelled": 1, "rejected": 0},
    ]
    ranged = reports.get(
        "/api/reports/throughput",
        params={"workflow": ORDER, "from": "2026-03-01", "to": "2026-03-03", "period": "week"},
    )
    assert rows(ranged) == [
        {"period": "2026-02-23", "started": 0, "completed": 0, "cancelled": 0, "rejected": 0},
        {"period": "2026-03-02", "started": 2, "completed": 2, "cancelled": 0, "rejected": 0},
    ]


def test_cycle_time_has_exact_percentiles_and_histogram(reports):
    response = reports.get("/api/reports/cycle-time", params={"workflow": ORDER})
    body = response.json()
    assert body["summary"] == {
        "instances": 3,
        "avg_s": 8400.0,
        "p50_s": 7200.0,
        "p90_s": 14400.0,
    }
    counts = {r["bucket"]: r["instances"] for r in body["rows"]}
    assert counts["< 1 h"] == 0
    assert counts["1-4 h"] == 2  # 1 h and 2 h: a bucket holds its lower bound
    assert counts["4-8 h"] == 1
    assert sum(counts.values()) == 3
    completed = reports.get(
        "/api/reports/cycle-time", params={"workflow": ORDER, "outcome": "completed"}
    ).json()
    assert (completed["summary"]["instances"], completed["summary"]["p90_s"]) == (2, 7200.0)


def test_time_per_step_gives_each_node_its_count_and_percentiles(reports):
    got = rows(reports.get("/api/reports/steps", params={"workflow": ORDER}))
    assert got == [
        {
            "workflow": ORDER,
            "step": "pack",
            "name": "Pack and verify",
            "tasks": 1,
            "avg_s": 1800.0,
            "p50_s": 1800.0,
            "p90_s": 1800.0,
        },
        {
            "workflow": ORDER,
            "step": "pick",
            "name": "Pick items",
            "tasks": 2,
            "avg_s": 2700.0,
            "p50_s": 1800.0,
            "p90_s": 3600.0,
        },
    ]


def test_sla_breach_rate_per_step_and_per_person(reports):
    by_step = rows(reports.get("/api/reports/sla", params={"workflow": ORDER}))
    assert [(r["step"], r["with_due"], r["breached"], r["rate"]) for r in by_step] == [
        ("pack", 1, 0, 0.0),
        ("pick", 2, 1, 0.5),
    ]
    by_person = rows(reports.get("/api/reports/sla", params={"workflow": ORDER, "by": "person"}))
    assert by_person == [
        {"person": "walt", "with_due": 2, "breached": 1, "rate": 0.5},
        {"person": "wendy", "with_due": 1, "breached": 0, "rate": 0.0},
    ]


def test_open_work_per_person_and_per_role(reports):
    people = rows(reports.get("/api/reports/open-work"))
    assert [(r["person"], r["open"], r["overdue"]) for r in people] == [("wendy", 1, 1)]
    roles = rows(reports.get("/api/reports/open-work", params={"by": "role"}))
    assert [(r["role"], r["open"], r["unassigned"], r["overdue"]) for r in roles] == [
        ("warehouse", 2, 1, 2)
    ]
    assert roles[0]["oldest"].startswith("2026-03-04T09:00:00")


def test_funnel_counts_instances_per_stage_in_the_workflows_stage_order(reports):
    response = reports.get("/api/reports/funnel", params={"workflow": ORDER})
    assert response.json()["summary"] == {"started": 4}
    assert [(r["stage"], r["instances"], r["share"]) for r in rows(response)] == [
        ("Received", 4, 1.0),
        ("Paid", 2, 0.5),
        ("Being prepared", 3, 0.75),
        ("Ready for shipment", 0, 0.0),
        ("Shipped", 0, 0.0),
        ("Delivered", 2, 0.5),
        ("Waiting for stock", 0, 0.0),
        ("Cancelled", 0, 0.0),
        ("Payment failed", 1, 0.25),
    ]
    missing = reports.get("/api/reports/funnel")
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "workflow_required")


def test_filters_narrow_by_version_and_dates_and_refuse_nonsense(reports):
    assert rows(reports.get("/api/reports/steps", params={"workflow": ORDER, "version": 2})) == []
    one_day = reports.get(
        "/api/reports/cycle-time",
        params={"workflow": ORDER, "from": "2026-03-03", "to": "2026-03-03"},
    )
    assert one_day.json()["summary"]["instances"] == 1
    backwards = reports.get("/api/reports/steps", params={"from": "2026-03-03", "to": "2026-03-01"})
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_range")
    unknown = reports.get("/api/reports/steps", params={"workflow": "nope"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert reports.get("/api/reports/sla", params={"by": "moon"}).status_code == 422


@pytest.mark.parametrize(
    ("path", "params", "header"),
    [
        ("throughput", {}, "period,started,completed,cancelled,rejected"),
        ("cycle-time", {}, "bucket,from_s,to_s,instances"),
        ("steps", {}, "workflow,step,name,tasks,avg_s,p50_s,p90_s"),
        ("sla", {"by": "person"}, "person,with_due,breached,rate"),
        ("open-work", {"by": "role"}, "role,open,overdue,at_risk,unassigned,oldest"),
        ("funnel", {}, "stage,instances,share"),
    ],
)
def test_every_report_exports_its_table_as_csv(reports, path, params, header):
    response = reports.get(
        f"/api/reports/{path}", params={"workflow": ORDER, **params, "format": "csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert ",".join(table[0]) == header
    as_json = rows(reports.get(f"/api/reports/{path}", params={"workflow": ORDER, **params}))
    assert len(table) == 1 + len(as_json)


def test_csv_holds_the_same_figures_as_json(reports):
    response = reports.get("/api/reports/steps", params={"workflow": ORDER, "format": "csv"})
    assert response.text.splitlines()[1:] == [
        "order-management,pack,Pack and verify,1,1800.0,1800.0,1800.0",
        "order-management,pick,Pick items,2,2700.0,1800.0,3600.0",
    ]


# --- the report builder ---------------------------------------------------------------------


def query(client: TestClient, measure: str, group_by: str, **filters: Any) -> Any:
    body = {"workflow": ORDER, "measure": measure, "group_by": group_by, "filters": filters}
    return client.post("/api/reports/query", json=body)


def test_builder_counts_instances_by_current_stage_and_by_week(reports):
    assert rows(query(reports, "count", "stage")) == [
        {"group": "Delivered", "count": 2},
        {"group": "Being prepared", "count": 1},
        {"group": "Payment failed", "count": 1},
    ]
    assert rows(query(reports, "count", "week")) == [{"group": "2026-03-02", "count": 4}]
    assert rows(query(reports, "count", "month")) == [{"group": "2026-03-01", "count": 4}]
    assert rows(query(reports, "count", "step")) == [  # tasks, when grouped by step
        {"group": "pick", "count": 3},
        {"group": "pack", "count": 2},
    ]


def test_builder_groups_cycle_time_by_a_data_field(reports):
    assert rows(query(reports, "cycle_time", "data.warehouse")) == [
        {"group": "Berlin", "count": 2, "avg_s": 5400.0, "p50_s": 3600.0, "p90_s": 7200.0},
        {"group": "Leipzig", "count": 1, "avg_s": 14400.0, "p50_s": 14400.0, "p90_s": 14400.0},
    ]


def test_builder_labels_numbers_booleans_and_missing_fields_alike_on_both_databases(reports):
    assert rows(query(reports, "count", "data.total")) == [
        {"group": "30", "count": 3},
        {"group": "2500.5", "count": 1},
    ]
    assert rows(query(reports, "count", "data.express")) == [
        {"group": None, "count": 3},
        {"group": "true", "count": 1},
    ]


def test_builder_time_in_step_and_sla_rate(reports):
    assert rows(query(reports, "time_in_step", "assignee")) == [
        {"group": "walt", "count": 2, "avg_s": 2700.0, "p50_s": 1800.0, "p90_s": 3600.0},
        {"group": "wendy", "count": 1, "avg_s": 1800.0, "p50_s": 1800.0, "p90_s": 1800.0},
    ]
    assert rows(query(reports, "sla_breach_rate", "step")) == [
        {"group": "pick", "with_due": 2, "breached": 1, "rate": 0.5},
        {"group": "pack", "with_due": 1, "breached": 0, "rate": 0.0},
    ]
    assert rows(query(reports, "sla_breach_rate", "role")) == [
        {"group": "warehouse", "with_due": 3, "breached": 1, "rate": 0.3333}
    ]
    assert rows(query(reports, "time_in_step", "data.warehouse", version=2)) == []
    dated = query(reports, "time_in_step", "day", **{"from": "2026-03-03", "to": "2026-03-03"})
    assert rows(dated) == [
        {"group": "2026-03-03", "count": 1, "avg_s": 3600.0, "p50_s": 3600.0, "p90_s": 3600.0}
    ]


def test_builder_groups_task_measures_by_the_instances_data_field(reports):
    assert rows(query(reports, "time_in_step", "data.warehouse")) == [
        {"group": "Berlin", "count": 3, "avg_s": 2400.0, "p50_s": 1800.0, "p90_s": 3600.0}
    ]  # Leipzig's tasks are open or it had none
    assert rows(query(reports, "sla_breach_rate", "data.warehouse")) == [
        {"group": "Berlin", "with_due": 3, "breached": 1, "rate": 0.3333}
    ]
    assert rows(query(reports, "count", "data.warehouse")) == [
        {"group": "Berlin", "count": 2},
        {"group": "Leipzig", "count": 2},
    ]


def test_builder_answers_csv(reports):
    response = reports.post(
        "/api/reports/query",
        params={"format": "csv"},
        json={"workflow": ORDER, "measure": "count", "group_by": "data.warehouse"},
    )
    assert response.text.splitlines() == ["group,count", "Berlin,2", "Leipzig,2"]


@pytest.mark.parametrize(
    "group_by",
    [
        "data.bad-name",
        "data.",
        "data.1st",
        "data.x'); DROP TABLE instances; --",
        "data." + "x" * 65,
        "bogus",
        "data.a.b",
    ],
)
def test_builder_refuses_a_bad_group_by(reports, group_by):
    response = query(reports, "count", group_by)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_builder_refuses_a_grouping_the_measure_has_no_meaning_for(reports):
    response = query(reports, "cycle_time", "step")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_group_by"
    assert query(reports, "time_in_step", "stage").status_code == 422
    assert query(reports, "average", "stage").status_code == 422
    unknown = reports.post(
        "/api/reports/query", json={"workflow": "nope", "measure": "count", "group_by": "stage"}
    )
    assert unknown.status_code == 404


# --- saved reports --------------------------------------------------------------------------

SAVED = {
    "name": "Late picks by warehouse",
    "query": {
        "workflow": ORDER,
        "measure": "sla_breach_rate",
        "group_by": "data.warehouse",
        "filters": {"from": "2026-01-01"},
    },
    "chart": "bar",
}


def manager(app: Any, admin: TestClient, username: str, roles: list[str]) -> TestClient:
    """A new person with ``roles`` (manager among them), logged in."""
    password = f"pw-{username}-long-enough"
    made = admin.post(
        "/api/admin/users", json={"username": username, "roles": roles, "password": password}
    )
    assert made.status_code == 201, made.text
    client = TestClient(app)
    login = client.post("/api/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return client


def test_saved_report_is_seen_by_its_owner_and_the_roles_it_is_shared_with(app, login):
    admin, mia = login("admin"), login("mia")
    max_ = manager(app, admin, "max", ["manager", "employee"])
    made = admin.post("/api/reports/saved", json={**SAVED, "shared_with": ["warehouse_manager"]})
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["query"]["filters"] == {"version": None, "from": "2026-01-01", "to": None}
    assert (report["owner"], report["mine"], report["shared_with"]) == (
        "admin",
        True,
        ["warehouse_manager"],
    )
    seen = mia.get("/api/reports/saved").json()
    assert [(r["id"], r["mine"], r["pinned"]) for r in seen] == [(report["id"], False, False)]
    assert max_.get("/api/reports/saved").json() == []  # a manager, but not warehouse_manager
    assert max_.put(f"/api/reports/saved/{report['id']}", json={"pinned": True}).status_code == 404
    own = max_.post("/api/reports/saved", json={**SAVED, "name": "Mine"})
    assert own.status_code == 201
    assert [r["name"] for r in max_.get("/api/reports/saved").json()] == ["Mine"]
    assert [r["name"] for r in mia.get("/api/reports/saved").json()] == [SAVED["name"]]


def test_pinning_is_per_person_and_only_the_owner_changes_or_deletes(app, login):
    admin, mia = login("admin"), login("mia")
    report = admin.post(
        "/api/reports/saved", json={**SAVED, "shared_with": ["manager"], "pinned": True}
    ).json()
    assert report["pinned"] is True
    url = f"/api/reports/saved/{report['id']}"

    pinned = mia.put(url, json={"pinned": True})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned"] is True
    assert [r["id"] for r in mia.get("/api/reports/saved", params={"pinned": True}).json()] == [
        report["id"]
    ]
    admin.put(url, json={"pinned": False})
    assert admin.get("/api/reports/saved", params={"pinned": True}).json() == []
    assert mia.get("/api/reports/saved", params={"pinned": True}).json()[0]["id"] == report["id"]

    renamed = mia.put(url, json={"name": "Mine now", "pinned": False})
    assert renamed.status_code == 403
    assert mia.delete(url).status_code == 403
    changed = admin.put(
        url,
        json={"name": "Late picks", "chart": "line", "shared_with": [], "query": SAVED["query"]},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["chart"]) == ("Late picks", "line")
    assert mia.get("/api/reports/saved").json() == []  # no longer shared with her
    assert admin.delete(url).status_code == 204
    assert admin.delete(url).status_code == 404


def test_saved_report_query_is_checked_like_a_query(app, login):
    admin = login("admin")
    bad_group = admin.post(
        "/api/reports/saved", json={**SAVED, "query": {**SAVED["query"], "group_by": "data.a-b"}}
    )
    assert bad_group.status_code == 422
    no_meaning = admin.post(
        "/api/reports/saved", json={**SAVED, "query": {**SAVED["query"], "group_by": "stage"}}
    )
    assert no_meaning.json()["error"]["code"] == "invalid_group_by"
    unknown_role = admin.post("/api/reports/saved", json={**SAVED, "shared_with": ["astronauts"]})
    assert (unknown_role.status_code, unknown_role.json()["error"]["code"]) == (
        422,
        "unknown_role",
    )
    assert admin.post("/api/reports/saved", json={**SAVED, "chart": "3d-pie"}).status_code == 422
    assert admin.get("/api/reports/saved").json() == []


# --- what the service records ---------------------------------------------------------------

STAGED = {
    "format": 1,
    "name": "Two stages and a task",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "stage": "Asked"},
        {
            "id": "check",
            "type": "user_task",
            "name": "Check it",
            "stage": "Checking",
            "assignee": {"user": "admin"},
            "sla": {"due": "PT1H"},
        },
        {"id": "end", "type": "end", "name": "Done", "stage": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "check"},
        {"id": "e2", "from": "check", "to": "end"},
    ],
}


@pytest.fixture
def clocked(settings: Any) -> Any:
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.engine.dispose()


def test_reports_read_what_the_service_records_for_instances_run_through_the_api(clocked):
    with TestClient(clocked) as admin:
        me = admin.post(
            "/api/auth/login", json={"username": "admin", "password": "admin-test-password"}
        )
        admin.headers["X-CSRF-Token"] = me.json()["csrf_token"]
        assert (
            admin.post("/api/workflows", json={"key": "staged", "draft": STAGED}).status_code == 201
        )
        assert admin.post("/api/workflows/staged/publish").status_code == 201
        for wait in ("PT30M", "PT2H"):  # on time, then late
            started = admin.post("/api/workflows/staged/instances", json={"data": {}}).json()
            (check,) = started["open_tasks"]
            admin.post("/api/clock/advance", json={"by": wait})
            done = admin.post(f"/api/tasks/{check['id']}/complete", json={"data": {}})
            assert done.status_code == 200, done.text
        admin.post("/api/workflows/staged/instances", json={"data": {}})  # still checking

        funnel = rows(admin.get("/api/reports/funnel", params={"workflow": "staged"}))
        assert [(r["stage"], r["instances"]) for r in funnel] == [
            ("Asked", 3),
            ("Checking", 3),
            ("Done", 2),
        ]
        (step,) = rows(admin.get("/api/reports/steps", params={"workflow": "staged"}))
        assert step["tasks"] == 2
        assert abs(step["p50_s"] - 1800) < 60
        assert abs(step["p90_s"] - 7200) < 60
        (late,) = rows(admin.get("/api/reports/sla", params={"workflow": "staged"}))
        assert (late["with_due"], late["breached"]) == (2, 1)
        cycle = admin.get("/api/reports/cycle-time", params={"workflow": "staged"}).json()
        assert cycle["summary"]["instances"] == 2
        assert abs(cycle["summary"]["p90_s"] - 7200) < 60
        (person,) = rows(admin.get("/api/reports/open-work", params={"workflow": "staged"}))
        assert (person["person"], person["open"]) == ("admin", 1)


def test_funnel_counts_an_instance_once_per_stage_however_its_events_are_shaped(reports, app):
    from app.db.models import AuditEvent, Instance

    with app.state.sessionmaker() as session:
        a = session.query(Instance.id).filter(Instance.business_key == "A").scalar()
        for details in ({"stage": "Paid"}, {"stage": "Paid", "node": "confirm"}):
            session.add(AuditEvent(at=T, action="instance.stage", instance_id=a, details=details))
        session.commit()
    funnel = rows(reports.get("/api/reports/funnel", params={"workflow": ORDER}))
    assert {r["stage"]: r["instances"] for r in funnel}["Paid"] == 2


def test_generated_history_adds_up_across_reports(app, login):
    from app.services.seeding import seed_history

    now = datetime(2026, 6, 1, tzinfo=UTC)
    summary = seed_history(app.state.engine, finished=300, running=20, days=30, now=now, seed=7)
    assert (summary.finished, summary.running) == (300, 20)
    admin = login("admin")
    q = {"workflow": ORDER}
    days = rows(admin.get("/api/reports/throughput", params=q))
    assert sum(d["started"] for d in days) == 320
    assert sum(d["completed"] + d["cancelled"] + d["rejected"] for d in days) == 300
    assert max(d["period"] for d in days) <= "2026-06-01"
    funnel = {r["stage"]: r["instances"] for r in rows(admin.get("/api/reports/funnel", params=q))}
    assert funnel["Received"] == 320
    assert funnel["Delivered"] + funnel["Cancelled"] + funnel["Payment failed"] >= 300
    open_roles = rows(admin.get("/api/reports/open-work", params={**q, "by": "role"}))
    assert sum(r["open"] for r in open_roles) == 20
    steps = {r["step"]: r for r in rows(admin.get("/api/reports/steps", params=q))}
    assert steps["pick"]["tasks"] > 250
    assert steps["pick"]["p50_s"] <= steps["pick"]["p90_s"]
    late = {r["step"]: r for r in rows(admin.get("/api/reports/sla", params=q))}
    assert 0 < late["pick"]["rate"] < 1
    by_warehouse = rows(query(admin, "count", "data.warehouse"))
    assert {r["group"] for r in by_warehouse} <= {"Berlin", "Leipzig", "Hamburg"}
    assert sum(r["count"] for r in by_warehouse) == 320
    again = seed_history(app.state.engine, finished=5, now=now, seed=7)
    assert again.first is not None


def test_builder_gives_percentiles_to_a_group_without_a_name_too(reports, app):
    lone = HistoryInstance(
        ORDER,
        1,
        started_at=T,
        finished_at=T + 3 * H,
        data={"order_id": "E"},
        tasks=[
            HistoryTask(node="review", created_at=T, completed_at=T + 3 * H, completed_by="sam")
        ],
    )
    insert_history(app.state.engine, [lone])
    by_role = rows(query(reports, "time_in_step", "role"))
    assert by_role == [
        {"group": "warehouse", "count": 3, "avg_s": 2400.0, "p50_s": 1800.0, "p90_s": 3600.0},
        {"group": None, "count": 1, "avg_s": 10800.0, "p50_s": 10800.0, "p90_s": 10800.0},
    ]
