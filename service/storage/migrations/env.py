"""Alembic environment: the URL comes from settings (or `-x url=...`), the metadata from tables."""

from __future__ import annotations

from alembic import context

from service.settings import DatabaseSettings
from service.storage.db import make_engine
from service.storage.tables import Base


def _url() -> str:
    given = context.config.attributes.get("database_url")
    override = context.get_x_argument(as_dictionary=True).get("url")
    return str(given or override or DatabaseSettings().database_url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
