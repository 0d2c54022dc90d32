"""coverage_assertion.continues: a re-sign with unchanged guidance continues an assertion

A re-sign whose guidance is unchanged sends no update (CRD resp-35), so the order keeps its
earlier coverage-assertion-id. The new evaluation gets a row of its own that names the assertion
it continues; DTR, reached with that id, reads the newest one. Existing rows continue nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("coverage_assertion", sa.Column("continues", sa.String(length=64)))
    op.create_index(op.f("ix_coverage_assertion_continues"), "coverage_assertion", ["continues"])


def downgrade() -> None:
    op.drop_index(op.f("ix_coverage_assertion_continues"), table_name="coverage_assertion")
    with op.batch_alter_table("coverage_assertion") as batch:
        batch.drop_column("continues")
