"""reviewer_action: the clinical reviewers' actions in the workbench, in a table of their own

Until now a reviewer opening, approving, denying or asking about a case was written to
`dtr_access` as client `reviewer:<name>`, beside the DTR clients' reads of patient data. Those
rows move here (the reviewer's name, the action, the case, the patient's keyed hash, the time and
the status, as they were recorded); the downgrade moves them back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# What the workbench wrote as dtr_access.client_id: the prefix, then the reviewer's name.
_PREFIX = "reviewer:"
_INDEXED = ("at", "reviewer", "patient_hash", "case_id")


def upgrade() -> None:
    op.create_table(
        "reviewer_action",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("patient_hash", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=255), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in _INDEXED:
        op.create_index(op.f(f"ix_reviewer_action_{column}"), "reviewer_action", [column])
    op.execute(
        sa.text(
            "INSERT INTO reviewer_action (at, reviewer, action, patient_hash, case_id, status_code)"
            " SELECT at, substr(client_id, :start), action, patient_hash, target, status_code"
            " FROM dtr_access WHERE client_id LIKE :prefix ORDER BY id"
        ).bindparams(start=len(_PREFIX) + 1, prefix=f"{_PREFIX}%")
    )
    op.execute(
        sa.text("DELETE FROM dtr_access WHERE client_id LIKE :prefix").bindparams(
            prefix=f"{_PREFIX}%"
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO dtr_access (at, client_id, action, patient_hash, target, status_code)"
            " SELECT at, :prefix || reviewer, action, patient_hash, case_id, status_code"
            " FROM reviewer_action ORDER BY id"
        ).bindparams(prefix=_PREFIX)
    )
    for column in _INDEXED:
        op.drop_index(op.f(f"ix_reviewer_action_{column}"), table_name="reviewer_action")
    op.drop_table("reviewer_action")
