"""Failed reviewer sign-ins per username and per client address (keyed hashes), shared by every
worker and replica for the sign-in throttle

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("forget_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_login_attempts_forget_at", "login_attempts", ["forget_at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
