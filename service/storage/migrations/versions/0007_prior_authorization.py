"""Prior authorization (Da Vinci PAS): requests, their append-only decisions, reviewer sessions and
the Subscriptions clients make to hear of decisions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _requests()
    _decisions()
    _reviewer_sessions()
    _subscriptions()


def _requests() -> None:
    op.create_table(
        "prior_auth_request",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("fhir_server", sa.String(length=512)),
        sa.Column("patient_id", sa.String(length=255)),
        sa.Column("policy_id", sa.String(length=64)),
        sa.Column("order_ref", sa.String(length=255)),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("preauth_ref", sa.String(length=64)),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("claim_response", sa.JSON(), nullable=False),
        sa.UniqueConstraint("client_id", "identifier", name="uq_prior_auth_request_client"),
    )
    op.create_index("ix_prior_auth_request_queue", "prior_auth_request", ["status", "due_at"])


def _decisions() -> None:
    op.create_table(
        "prior_auth_decision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason_code", sa.String(length=64)),
        sa.Column("reason_text", sa.String(length=2000)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("claim_response", sa.JSON(), nullable=False),
    )
    op.create_index(
        op.f("ix_prior_auth_decision_request_id"), "prior_auth_decision", ["request_id"]
    )


def _reviewer_sessions() -> None:
    op.create_table(
        "reviewer_session",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("reviewer", sa.String(length=255), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_reviewer_session_expires_at"), "reviewer_session", ["expires_at"])


def _subscriptions() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=512), nullable=False),
        sa.Column("organization", sa.String(length=255), nullable=False),
        sa.Column("content", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
    )
    op.create_index(op.f("ix_subscription_client_id"), "subscription", ["client_id"])


def downgrade() -> None:
    op.drop_table("subscription")
    op.drop_table("reviewer_session")
    op.drop_table("prior_auth_decision")
    op.drop_table("prior_auth_request")
