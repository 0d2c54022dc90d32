"""Bring a database to the newest schema (`alembic upgrade head`), from code or the command line.
Any number of processes may do it at once (replicas starting together): they take turns on one
lock, the first migrates and the others find the schema current."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from service.settings import PROJECT_ROOT
from service.storage.locks import exclusive


def upgrade(database_url: str) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.cmd_opts = None
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["database_url"] = database_url
    with exclusive(database_url, "migrate"):
        command.upgrade(config, "head")
