"""The FastAPI application. Nothing is built at import time: ``create_app(settings)``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app import clock, errors
from app.clock import Clock
from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.deps import PrincipalCache, sane_json
from app.scheduler import Ownership, make_worker
from app.scheduler import start as start_scheduler
from app.services.runner import DefinitionCache
from app.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stepwise</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
h1{color:#4338ca}code{background:#eef2ff;padding:.1rem .3rem;border-radius:.25rem}a{color:#4338ca}</style>
</head><body>
<h1>Stepwise is running</h1>
<p>The order-management workflow is published and ready. The browser designer and inbox
arrive with the frontend; until then everything is available through the HTTP API.</p>
<ul>
<li><a href="/docs">API documentation</a> (try it out: log in with <code>POST /api/auth/login</code>)</li>
<li><a href="/healthz">Health check</a></li>
</ul>
<p>The demo people's passwords were printed in the terminal on first start.</p>
</body></html>
"""


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    if settings.production and settings.controllable_clock:
        raise ValueError(
            "the controllable clock is for tests and demos; production runs on the system clock"
        )
    engine = make_engine(settings.url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the pool the routes' blocking code runs in; anyio keeps one per event loop
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        scheduler = start_scheduler(app) if settings.run_scheduler else None
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        app.state.intake.close()
        app.state.ownership.release()
        app.state.worker.client.close()
        engine.dispose()

    app = FastAPI(
        title="Stepwise",
        version="0.1.0",
        description="A no-code workflow designer and engine. Errors are JSON: "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        dependencies=[Depends(sane_json)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_sessionmaker(engine, readonly=True)
    app.state.definitions = DefinitionCache()
    app.state.principals = PrincipalCache()
    app.state.clock = Clock(controllable=settings.controllable_clock)
    if migrate:
        upgrade(engine)
    if settings.seed_demo:
        from app.seed import seed

        app.state.first_start = seed(app.state.sessionmaker, settings)
    elif migrate:  # (a caller that does not migrate brings its own database)
        from app.seed import bootstrap

        app.state.first_start = bootstrap(app.state.sessionmaker, settings)
    app.state.worker = make_worker(app)
    from app.services.intake import Intake

    app.state.intake = Intake(app.state.sessionmaker, app.state.definitions, app.state.clock)
    app.state.ownership = Ownership(settings.url)
    from app.services import actionlinks

    actionlinks.install(app)  # the action link key, in the info of every session
    errors.install(app)
    app.add_middleware(Guard, fastapi_app=app)

    from app.routes import auth, calendars, hooks, instances, messages, people, tasks, workflows
    from app.routes import clock as clock_routes
    from app.routes import endpoints as event_endpoints

    # Each request is matched against the routers in this order, route by route: the busiest
    # (task actions, instances, webhooks) come first.
    for module in (
        tasks,
        instances,
        hooks,
        auth,
        workflows,
        messages,
        people,
        calendars,
        clock_routes,
        event_endpoints,
    ):
        app.include_router(module.router)
    from app.routes import inbox, requests, track  # the employee pages; the tracking page

    for module in (inbox, requests, track):
        app.include_router(module.router)
    if settings.demo_systems:
        from app.routes import demo

        app.include_router(demo.router)
    from app.routes import branding
    from app.routes import retention as retention_routes

    app.include_router(retention_routes.router)
    app.include_router(branding.router)
    from app.routes import reports as report_routes

    app.include_router(report_routes.router)
    for optional in ("documents", "tables", "admin"):
        try:
            module = __import__(f"app.routes.{optional}", fromlist=["router"])
        except ModuleNotFoundError:
            continue
        app.include_router(module.router)
    from app.routes import actionlinks as action_pages
    from app.routes import deadletters, metrics

    for module in (deadletters, action_pages, metrics):
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if (settings.frontend_dir / "index.html").is_file():
        app.mount("/", SinglePageApp(directory=settings.frontend_dir, html=True), name="frontend")
    else:

        @app.get("/", include_in_schema=False)
        def index() -> HTMLResponse:
            return HTMLResponse(INDEX_HTML)

    return app


class SinglePageApp(StaticFiles):
    """The built browser app: its files, and its ``index.html`` for any other page address
    (the app routes in the browser). API and hook addresses keep their JSON 404."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = scope["path"].lstrip("/").split("/", 1)[0]
        if scope["type"] == "http" and first in _NOT_PAGES:  # no API route took it
            allowed = _allowed_methods(scope["app"], scope["path"])
            response = (
                JSONResponse(
                    errors.body(
                        "method_not_allowed",
                        f"{scope['method']} is not allowed here; use {', '.join(allowed)}",
                    ),
                    status_code=405,
                    headers={"Allow": ", ".join(allowed)},
                )
                if allowed
                else JSONResponse(
                    errors.body("not_found", "there is nothing at this address"),
                    status_code=404,
                )
            )
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as error:
            if error.status_code != 404 or path.split("/", 1)[0] in _NOT_PAGES or "." in path:
                raise
            return await super().get_response("index.html", scope)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the API documents for ``path`` (none: nothing is there)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "route_table", None)
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"),
                sorted(method.upper() for method in operations),
            )
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.route_table = table
    # the most literal template wins, as in routing: /api/tasks/claim before /api/tasks/{id}
    matches = [
        (pattern.pattern.count("[^/]+"), methods)
        for pattern, methods in table
        if pattern.match(path)
    ]
    return min(matches)[1] if matches else []


_NOT_PAGES = frozenset(
    {"api", "hooks", "track", "act", "healthz", "metrics", "docs", "openapi.json"}
)

UNSAFE = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Guard:
    """Every request: the body size limit (also for bodies sent without a length), the app's
    clock, security headers on every response, a CSP on HTML pages; and the cache of who is
    who is cleared after changes to people, tokens or logins.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
    request, a fifth of the time of a small request here.
    """

    def __init__(self, inner: Any, *, fastapi_app: FastAPI) -> None:
        self.inner = inner
        self.fastapi_app = fastapi_app

    def limit(self, method: str, path: str) -> int:
        settings: Settings = self.fastapi_app.state.settings
        upload = method == "POST" and (
            (path.startswith("/api/instances/") and path.endswith("/documents"))
            or (path.startswith("/api/tables/") and path.endswith("/import"))
        )
        # an upload's multipart wrapping adds a little; the route enforces the file's own limit
        return settings.max_upload_bytes + 64 * 1024 if upload else settings.max_json_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit(scope["method"], path)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(send, limit)
            return
        clock.use(self.fastapi_app.state.clock)
        html_page = path not in ("/docs", "/redoc")
        state = {"received": 0, "refused": False, "status": 0}

        async def guarded_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit and not state["refused"]:
                    state["refused"] = True
                    await self._too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if (
                    content_type.startswith(b"text/html")
                    and html_page
                    and b"content-security-policy" not in present
                ):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.inner(scope, guarded_receive, guarded_send)
        method = scope["method"].encode()
        if (
            method in UNSAFE
            and state["status"] < 400
            and (path.startswith("/api/admin") or path == "/api/auth/logout")
        ):
            self.fastapi_app.state.principals.clear()

    @staticmethod
    async def _too_large(send: Any, limit: int) -> None:
        response = JSONResponse(
            errors.body("too_large", f"the request body is over the limit of {limit} bytes"),
            status_code=413,
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
