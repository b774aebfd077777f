"""Browser tests: the real app as a uvicorn process on a fresh SQLite file, driven by Debian's
Chromium through Playwright. Screenshots go to ``artifacts/screenshots`` (named in the README).

Without Chromium these tests skip, unless ``STEPWISE_REQUIRE_ALL=1`` (CI), where they fail."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("STEPWISE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_ALL = os.environ.get("STEPWISE_REQUIRE_ALL") == "1"
ADMIN_PASSWORD = "admin-ui-password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (STEPWISE_REQUIRE_ALL=1 makes this a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    passwords: dict[str, str]
    process: subprocess.Popen[str]

    def client(self, username: str) -> httpx.Client:
        """An API client logged in as ``username`` (with its CSRF header)."""
        client = httpx.Client(base_url=self.url, timeout=10)
        response = client.post(
            "/api/auth/login", json={"username": username, "password": self.passwords[username]}
        )
        response.raise_for_status()
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        _missing("the browser app is not built (make frontend)")
    data = tmp_path_factory.mktemp("ui-data")
    port = _free_port()
    env = {
        **os.environ,
        "STEPWISE_DATA_DIR": str(data),
        "STEPWISE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "STEPWISE_CONTROLLABLE_CLOCK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "app.cli", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    passwords: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:  # the first start prints the demo people, then the address
        if found := re.match(r"^  (\w+)\s+(\S+)$", line):
            passwords[found[1]] = found[2]
        if line.startswith("Stepwise on http"):
            break
    else:
        raise RuntimeError(f"the app did not start (exit {process.wait()})")
    # keep reading what it prints, so a full pipe never blocks it; the tail helps a failure
    tail: deque[str] = deque(maxlen=200)
    threading.Thread(target=tail.extend, args=(process.stdout,), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=1) as probe:
        for _ in range(200):  # the process is up; uvicorn binds right after printing
            try:
                if probe.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                process.poll()
                if process.returncode is not None:
                    raise RuntimeError("the app exited while starting") from None
                _pause(0.05)
    passwords["admin"] = ADMIN_PASSWORD
    yield Server(url, passwords, process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()


def _pause(seconds: float) -> None:
    """Waiting for a process to bind its port: the one wait we cannot drive."""
    import time

    time.sleep(seconds)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is None:
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_as(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:
    """``page_as("dana")``: a fresh browser context logged in through the login page."""
    contexts: list[Any] = []

    def make(username: str, *, width: int = 1400, height: int = 900) -> Any:
        context = browser.new_context(
            base_url=server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        sign_in(page, server, username)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, server: Server, username: str) -> None:
    """Sign ``username`` in through the login page, as a person would; back in the inbox."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(server.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/inbox.*"))


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
