"""Bring a database to the newest schema (`alembic upgrade head`), from code or the command line."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from service.settings import PROJECT_ROOT


def upgrade(database_url: str) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.cmd_opts = None
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")
