"""RETENTION_DAYS: `prune` deletes what is older, keeps what is not, and knows every dated table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from service.settings import Settings
from service.storage.retention import DATED, prune
from service.storage.tables import Base, JwtReplay, LoginAttempts

NOW = datetime(2036, 1, 1, tzinfo=UTC)


def _row(model: type[Base], at: datetime, index: int) -> dict[str, object]:
    values: dict[str, object] = {}
    for column in model.__table__.columns:
        if column.primary_key and column.autoincrement is True:
            continue
        if isinstance(column.type, DateTime):
            values[column.key] = at
        elif column.type.python_type is int:
            values[column.key] = 200
        elif column.type.python_type is float:
            values[column.key] = 1.0
        elif column.type.python_type in (dict, list):
            values[column.key] = {}
        else:
            values[column.key] = f"{column.key}-{index}"
    return values


def test_every_dated_table_has_a_retention_rule() -> None:
    dated = {
        table.name
        for table in Base.metadata.tables.values()
        if any(isinstance(c.type, DateTime) for c in table.columns)
    }
    assert dated == {model.__tablename__ for model, _ in DATED}


def test_prune_deletes_only_what_is_older(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    old, recent = NOW - timedelta(days=settings.retention_days + 1), NOW - timedelta(days=1)
    with sessions.begin() as session:
        for model, _ in DATED:
            session.execute(insert(model), [_row(model, old, 1), _row(model, recent, 2)])
        session.execute(
            insert(JwtReplay),
            [
                {"issuer": "i", "jti": "gone", "expires_at": NOW.timestamp() - 1},
                {"issuer": "i", "jti": "live", "expires_at": NOW.timestamp() + 60},
            ],
        )
        counts = {"failures": 1, "window_started_at": 0.0, "locked_until": 0.0, "lockouts": 1}
        session.execute(
            insert(LoginAttempts),
            [
                counts | {"key": "forgotten", "forget_at": NOW.timestamp() - 1},
                counts | {"key": "locked", "forget_at": NOW.timestamp() + 60},
            ],
        )
    removed = prune(sessions, settings, NOW)
    expired = {"jwt_replay": 1, "login_attempts": 1}
    assert removed == {model.__tablename__: 1 for model, _ in DATED} | expired
    with sessions() as session:
        for model, dated in DATED:
            assert session.scalar(select(func.count()).select_from(model)) == 1
            assert session.scalar(select(func.min(dated))).replace(
                tzinfo=UTC
            ) >= recent - timedelta(seconds=1)  # type: ignore[union-attr]
        assert session.scalars(select(JwtReplay.jti)).all() == ["live"]
        assert session.scalars(select(LoginAttempts.key)).all() == ["locked"]
