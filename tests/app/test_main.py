"""The app as a whole: security headers, JSON errors for anything, limits."""

from __future__ import annotations

from dataclasses import replace

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_html_pages_carry_security_headers(anonymous):
    r = anonymous.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_unknown_route_is_a_json_404(anonymous):
    r = anonymous.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_body_over_the_limit_is_refused_before_it_is_read(login):
    admin = login("admin")
    r = admin.post(
        "/api/workflows/order-management/instances",
        content=b'{"data": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_openapi_describes_every_api_route_with_error_responses(anonymous):
    schema = anonymous.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, operation in operations.items():
            assert "422" in operation["responses"] or method == "get", (method, path)
            assert "401" in operation["responses"] or path == "/api/auth/login", (method, path)


def test_healthz(anonymous):
    assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_browser_app_pages_fall_back_to_its_index_but_api_misses_stay_json(settings, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.app.conftest import with_settings

    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    app = create_app(with_settings(settings, frontend_dir=tmp_path), migrate=False)
    with TestClient(app) as client:
        page = client.get("/tasks/123")
        assert page.status_code == 200
        assert "<title>app</title>" in page.text
        assert client.get("/assets/app.js").text == "console.log(1)"
        assert client.get("/assets/missing.js").status_code == 404
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"]


def test_a_method_an_api_route_does_not_take_is_a_json_405_naming_the_ones_it_does(anonymous):
    answer = anonymous.request("TRACE", "/api/me")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_routes_blocking_work_runs_in_a_pool_of_the_configured_size(settings):
    app = create_app(replace(settings, request_threads=3))
    try:
        with TestClient(app) as client:
            size = client.portal.call(
                lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
            )
            assert client.get("/healthz").status_code == 200
    finally:
        app.state.engine.dispose()
    assert size == 3


def test_a_request_thread_count_below_one_is_refused_with_the_setting_named(monkeypatch):
    monkeypatch.setenv("STEPWISE_REQUEST_THREADS", "0")
    with pytest.raises(ValueError, match="STEPWISE_REQUEST_THREADS must be at least 1"):
        Settings.from_env()
    monkeypatch.setenv("STEPWISE_REQUEST_THREADS", "many")
    with pytest.raises(ValueError, match="STEPWISE_REQUEST_THREADS must be a whole number"):
        Settings.from_env()
