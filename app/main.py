"""The FastAPI application. Nothing is built at import time: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app import clock, errors
from app.clock import Clock
from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.scheduler import make_worker
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
    engine = make_engine(settings.url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = start_scheduler(app) if settings.run_scheduler else None
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        app.state.worker.client.close()
        engine.dispose()

    app = FastAPI(
        title="Stepwise",
        version="0.1.0",
        description="A no-code workflow designer and engine. Errors are JSON: "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_sessionmaker(engine, readonly=True)
    app.state.definitions = DefinitionCache()
    app.state.clock = Clock(controllable=settings.controllable_clock)
    if migrate:
        upgrade(engine)
    if settings.seed_demo:
        from app.seed import seed

        app.state.first_start = seed(app.state.sessionmaker, settings)
    app.state.worker = make_worker(app)
    errors.install(app)
    _middleware(app, settings)

    from app.routes import auth, instances, messages, people, tasks, workflows
    from app.routes import clock as clock_routes

    for module in (auth, workflows, instances, tasks, messages, people, clock_routes):
        app.include_router(module.router)
    if settings.demo_systems:
        from app.routes import demo

        app.include_router(demo.router)
    for optional in ("documents", "tables", "admin"):
        try:
            module = __import__(f"app.routes.{optional}", fromlist=["router"])
        except ModuleNotFoundError:
            continue
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if (settings.frontend_dir / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    else:

        @app.get("/", include_in_schema=False)
        def index() -> HTMLResponse:
            return HTMLResponse(INDEX_HTML)

    return app


def _middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        path = request.url.path
        upload = request.method == "POST" and (
            (path.startswith("/api/instances/") and path.endswith("/documents"))
            or (path.startswith("/api/tables/") and path.endswith("/import"))
        )
        # an upload's multipart wrapping adds a little; the route enforces the file's own limit
        limit = settings.max_upload_bytes + 64 * 1024 if upload else settings.max_json_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return JSONResponse(
                errors.body("too_large", f"the request body is over the limit of {limit} bytes"),
                status_code=413,
            )
        clock.use(app.state.clock)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.headers.get("content-type", "").startswith(
            "text/html"
        ) and request.url.path not in (
            "/docs",
            "/redoc",
        ):
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response
