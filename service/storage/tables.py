"""Tables. Changing one means a new Alembic revision in `migrations/versions/`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One hook call. No PHI beyond a keyed hash of the patient id and order references."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hook: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(128), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(255))
    patient_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    orders_in_scope: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)


class FeedbackEntry(Base):
    """One CDS Hooks feedback item, as the client sent it (card uuid, outcome, reasons)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    outcome_timestamp: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)


class CoverageAssertion(Base):
    """The evaluation behind one coverage-information assertion, for DTR to pre-fill from."""

    __tablename__ = "coverage_assertion"

    assertion_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    policy_id: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str] = mapped_column(String(255))
    coverage_ref: Mapped[str] = mapped_column(String(255))
    hook_instance: Mapped[str] = mapped_column(String(128))
    evaluation: Mapped[dict[str, object]] = mapped_column(JSON)


class StoredResponse(Base):
    """A QuestionnaireResponse as received, committed before it is acknowledged."""

    __tablename__ = "questionnaire_response"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier: Mapped[str | None] = mapped_column(String(255), unique=True)
    assertion_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resource: Mapped[dict[str, object]] = mapped_column(JSON)
