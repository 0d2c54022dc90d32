from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.storage.db import make_engine
from service.storage.tables import Base


def test_migrations_build_exactly_the_tables_in_the_code(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert {"audit_log", "feedback", "alembic_version"} <= set(
            inspect(connection).get_table_names()
        )
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], "tables.py changed without a migration"
