"""The notification outbox: each Subscription event committed with the decision it announces,
delivered from there by one process of the cluster

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("event_number", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(length=64)),
        sa.Column("focus", sa.JSON(), nullable=False),
        sa.UniqueConstraint("subscription_id", "event_number", name="uq_notification_event_number"),
    )
    op.create_index("ix_notification_event_due", "notification_event", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("notification_event")
