"""One open prior-authorization request per order: the order's key (client, FHIR server, order,
Coverage) on each request, unique among the requests still open

Requests kept before this revision have no key and are not held to it (several open requests for
one order may already be there; the reviewers close them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN = "status IN ('pended', 'more-info')"


def upgrade() -> None:
    with op.batch_alter_table("prior_auth_request") as batch:
        batch.add_column(sa.Column("order_key", sa.String(length=64)))
    op.create_index(
        "uq_prior_auth_request_open_order",
        "prior_auth_request",
        ["order_key"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_prior_auth_request_open_order", table_name="prior_auth_request")
    with op.batch_alter_table("prior_auth_request") as batch:
        batch.drop_column("order_key")
