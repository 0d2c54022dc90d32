"""questionnaire_error_report: what DTR clients report through $log-questionnaire-errors

DTR 2.0.1's `Questionnaire/$log-questionnaire-errors` lets a DTR client tell the payer what went
wrong with a Questionnaire or its CQL. Each report is kept (the Questionnaire canonical, the
OperationOutcome, the reporting client) under the same retention as the other DTR rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questionnaire_error_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("questionnaire", sa.String(length=512), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_questionnaire_error_report_received_at"),
        "questionnaire_error_report",
        ["received_at"],
    )
    op.create_index(
        op.f("ix_questionnaire_error_report_questionnaire"),
        "questionnaire_error_report",
        ["questionnaire"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_questionnaire_error_report_questionnaire"),
        table_name="questionnaire_error_report",
    )
    op.drop_index(
        op.f("ix_questionnaire_error_report_received_at"), table_name="questionnaire_error_report"
    )
    op.drop_table("questionnaire_error_report")
