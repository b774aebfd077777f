"""``GET /api/admin/metrics``: the installation's figures in the Prometheus text format."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.routes.metrics import _label
from tests.app.builders import assert_error, order

Login = Callable[[str], TestClient]
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+)$")


def scrape(client: TestClient) -> dict[str, float]:
    """Every sample as ``name{labels}`` → value; checks the lines are well formed."""
    response = client.get("/api/admin/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) stepwise_[a-z_]+ ", line), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def test_metrics_count_instances_tasks_and_outbox_rows(login: Login) -> None:
    admin = login("admin")
    before = scrape(admin)
    assert before["stepwise_timers_pending"] == 0
    assert not any(k.startswith("stepwise_instances{") for k in before)
    started = admin.post("/api/workflows/order-management/instances", json={"data": order("M-1")})
    assert started.status_code == 201, started.text
    after = scrape(admin)
    assert after['stepwise_instances{workflow="order-management",status="running"}'] == 1
    assert after['stepwise_outbox_rows{kind="call_http",status="pending"}'] == 1
    assert after["stepwise_outbox_oldest_pending_seconds"] >= 0
    assert after["stepwise_timers_late_seconds"] == 0


def test_metrics_are_for_admins_and_their_tokens(login: Login, anonymous: Any) -> None:
    assert_error(login("walt").get("/api/admin/metrics"), 403)
    assert_error(anonymous.get("/api/admin/metrics"), 401)
    admin = login("admin")
    made = admin.post(
        "/api/admin/tokens", json={"name": "prometheus", "user": "admin", "scopes": ["read"]}
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    scraped = anonymous.get("/api/admin/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200, scraped.text
    assert "# TYPE stepwise_instances gauge" in scraped.text


def test_label_values_are_escaped() -> None:
    assert _label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
