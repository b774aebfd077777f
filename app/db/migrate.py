"""Running the alembic migrations from code (at start, and in tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from app.settings import ROOT


def alembic_config() -> Config:
    return Config(str(ROOT / "alembic.ini"))


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (every head: work in progress may branch, a merge
    revision joins the branches)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
