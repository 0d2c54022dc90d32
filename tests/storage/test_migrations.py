from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from service.settings import PROJECT_ROOT
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


def _alembic(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["database_url"] = database_url
    return config


def test_reviewer_actions_move_out_of_the_dtr_access_audit_and_back(
    empty_database_url: str,
) -> None:
    """0011: what the workbench wrote to `dtr_access` as client `reviewer:<name>` moves to
    `reviewer_action` as it was recorded; a DTR client's row stays; the downgrade moves it back."""
    config = _alembic(empty_database_url)
    command.upgrade(config, "0010")
    at = datetime(2026, 11, 24, 12, tzinfo=UTC)
    rows = [
        ("reviewer:rn.lee", "review-approve", "h1", "case-1"),
        ("ehr-a", "questionnaire-package", "h2", "assertion-1"),
    ]
    engine = make_engine(empty_database_url)
    with engine.begin() as connection:
        for client_id, action, hashed, target in rows:
            connection.execute(
                text(
                    "INSERT INTO dtr_access (at, client_id, action, patient_hash, target,"
                    " status_code) VALUES (:at, :client, :action, :hashed, :target, 200)"
                ),
                {
                    "at": at,
                    "client": client_id,
                    "action": action,
                    "hashed": hashed,
                    "target": target,
                },
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        moved = connection.execute(
            text("SELECT reviewer, action, patient_hash, case_id, status_code FROM reviewer_action")
        ).all()
        kept = connection.execute(text("SELECT client_id FROM dtr_access")).scalars().all()
    assert [tuple(r) for r in moved] == [("rn.lee", "review-approve", "h1", "case-1", 200)]
    assert kept == ["ehr-a"]
    command.downgrade(config, "0010")
    with engine.connect() as connection:
        back = connection.execute(
            text(
                "SELECT client_id, action, patient_hash, target FROM dtr_access ORDER BY client_id"
            )
        ).all()
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert sorted(tuple(r) for r in back) == sorted(rows)
    assert "reviewer_action" not in tables
