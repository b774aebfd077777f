"""Settings, from the environment (``STEPWISE_*``, ``DATABASE_URL``) or given in tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting in the environment has a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start. Nothing is read at import time.

    Attributes:
        database_url: SQLAlchemy URL; SQLite at ./data/stepwise.db by default.
        data_dir: where documents and the default database live.
        admin_password: the admin's password at first start (else generated and printed).
        max_upload_bytes: the largest document accepted.
        session_hours: how long a login lasts.
        secure_cookies: send cookies only over HTTPS (set in production).
        seed_demo: load the templates, demo people and the inventory table at first start.
        run_scheduler: run the timer and outbox workers inside this process.
        demo_systems: serve stand-in payment and carrier APIs under /demo.
        controllable_clock: let an admin move the service's clock forward (tests, demos).
        production: refuse test-only settings (the controllable clock).
        extra: values templates read as ``settings.*`` (payment_url, carrier_url, smtp_host...).
        secrets: values workflows may name but never read (``STEPWISE_SECRET_<NAME>``): the SMTP
            password, the SMS provider's token, Slack and Teams webhook URLs.
        action_link_secret: the key approve / reject links in notifications are signed with
            (``STEPWISE_ACTION_LINK_SECRET``); when unset, one is generated once and kept in
            ``<data_dir>/action-link.key``. Every process must use the same one.
        http_allow: internal hosts, addresses and networks outbound calls may reach
            (``STEPWISE_HTTP_ALLOW``, comma-separated, e.g. ``127.0.0.1,10.1.0.0/16``); every
            other internal address is refused (see app/services/egress.py).
        http_max_response_bytes: the largest answer an outbound call may read.
        request_threads: how many requests at once run their blocking database work
            (``STEPWISE_REQUEST_THREADS``, 8 by default: the size of the thread pool the
            routes' synchronous code runs in). The others wait their turn in the event loop.
            Fewer threads than anyio's default of 40 contend less for the interpreter lock
            and, on SQLite, for the write lock: the API bench's SQLite figure went from about
            19 to 28 instances/s and its p50 completion from about 320 to 180 ms at 8 (see
            docs/service.md, Benchmarks).
    """

    database_url: str = ""
    data_dir: Path = ROOT / "data"
    admin_password: str | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    session_hours: int = 12
    secure_cookies: bool = False
    seed_demo: bool = True
    run_scheduler: bool = True
    frontend_dir: Path = ROOT / "frontend" / "dist"
    demo_systems: bool = False
    controllable_clock: bool = False
    production: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    action_link_secret: str | None = field(default=None, repr=False)
    http_allow: str = ""
    http_max_response_bytes: int = 1024 * 1024
    request_threads: int = 8

    def __post_init__(self) -> None:
        if self.request_threads < 1:
            raise SettingsError(
                f"STEPWISE_REQUEST_THREADS must be at least 1, not {self.request_threads}"
            )

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'stepwise.db'}"

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("STEPWISE_DATA_DIR", str(ROOT / "data")))
        # STEPWISE_SETTING_PAYMENT_URL=... becomes {{ settings.payment_url }} in templates
        extra = {
            key.removeprefix("STEPWISE_SETTING_").lower(): value
            for key, value in os.environ.items()
            if key.startswith("STEPWISE_SETTING_")
        }
        # STEPWISE_SECRET_SLACK_OPS=https://hooks.slack.com/... is the secret named slack_ops
        secrets = {
            key.removeprefix("STEPWISE_SECRET_").lower(): value
            for key, value in os.environ.items()
            if key.startswith("STEPWISE_SECRET_")
        }
        return cls(
            database_url=os.environ.get("DATABASE_URL", ""),
            data_dir=data_dir,
            admin_password=os.environ.get("STEPWISE_ADMIN_PASSWORD") or None,
            secure_cookies=os.environ.get("STEPWISE_SECURE_COOKIES") == "1",
            seed_demo=os.environ.get("STEPWISE_SEED_DEMO", "1") == "1",
            run_scheduler=os.environ.get("STEPWISE_SCHEDULER", "1") == "1",
            extra=extra,
            secrets=secrets,
            action_link_secret=os.environ.get("STEPWISE_ACTION_LINK_SECRET") or None,
            controllable_clock=os.environ.get("STEPWISE_CONTROLLABLE_CLOCK") == "1",
            http_allow=os.environ.get("STEPWISE_HTTP_ALLOW", ""),
            production=os.environ.get("STEPWISE_PRODUCTION") == "1",
            request_threads=_whole_number("STEPWISE_REQUEST_THREADS", 8),
        )


def _whole_number(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None
