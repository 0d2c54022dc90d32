"""bound assertions, hook answers, DTR access audit, shared jti replay store

Coverage assertions and questionnaire responses are bound to the registered client (its FHIR
server, the patient as it names it). Rows written before this revision belong to no client
(client_id ''), so no registered client can reach them. A response's identifier is unique per
client, no longer across clients.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:10:01.485130
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _binding_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("client_id", sa.String(length=255), nullable=False, server_default=""),
        sa.Column("fhir_server", sa.String(length=512), nullable=True),
        sa.Column("patient_id", sa.String(length=255), nullable=True),
    ]


def _drop_identifier_uniqueness() -> None:
    """The 0003 constraint has no name of ours: PostgreSQL named it, SQLite names it nothing (a
    naming convention lets the batch rebuild find it)."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            "questionnaire_response_identifier_key", "questionnaire_response", type_="unique"
        )
        return
    convention = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
    with op.batch_alter_table("questionnaire_response", naming_convention=convention) as batch:
        batch.drop_constraint("uq_questionnaire_response_identifier", type_="unique")


def upgrade() -> None:
    _access_log()
    _hook_answers()
    _bind_to_callers()


def _access_log() -> None:
    op.create_table(
        "dtr_access",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("patient_hash", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_dtr_access_at"), "dtr_access", ["at"], unique=False)
    op.create_index(
        op.f("ix_dtr_access_patient_hash"), "dtr_access", ["patient_hash"], unique=False
    )


def _hook_answers() -> None:
    """What CRD answered, and the jtis of the calls it answered (replays refused)."""
    op.create_table(
        "hook_answer",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hook", sa.String(length=64), nullable=False),
        sa.Column("hook_instance", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("fhir_server", sa.String(length=512), nullable=True),
        sa.Column("patient_id", sa.String(length=255), nullable=True),
        sa.Column("crd_version", sa.String(length=16), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_hook_answer_at"), "hook_answer", ["at"], unique=False)
    op.create_index(
        op.f("ix_hook_answer_hook_instance"), "hook_answer", ["hook_instance"], unique=False
    )
    op.create_table(
        "jwt_replay",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti"),
    )
    op.create_index(op.f("ix_jwt_replay_expires_at"), "jwt_replay", ["expires_at"], unique=False)


def _bind_to_callers() -> None:
    """Assertions and responses bound to the client, site and patient they were given for."""
    with op.batch_alter_table("coverage_assertion") as batch:
        for column in _binding_columns():
            batch.add_column(column)
        batch.create_index(op.f("ix_coverage_assertion_created_at"), ["created_at"])
    _drop_identifier_uniqueness()
    with op.batch_alter_table("questionnaire_response") as batch:
        for column in _binding_columns():
            batch.add_column(column)
        batch.create_index("ix_questionnaire_response_patient", ["client_id", "patient_id"])
        batch.create_unique_constraint(
            "uq_questionnaire_response_client", ["client_id", "identifier"]
        )
    for table in ("coverage_assertion", "questionnaire_response"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("client_id", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("questionnaire_response", recreate="always") as batch:
        batch.drop_constraint("uq_questionnaire_response_client", type_="unique")
        batch.drop_index("ix_questionnaire_response_patient")
        for name in ("patient_id", "fhir_server", "client_id"):
            batch.drop_column(name)
        batch.create_unique_constraint("uq_questionnaire_response_identifier", ["identifier"])
    with op.batch_alter_table("coverage_assertion") as batch:
        batch.drop_index(op.f("ix_coverage_assertion_created_at"))
        for name in ("patient_id", "fhir_server", "client_id"):
            batch.drop_column(name)
    op.drop_table("jwt_replay")
    op.drop_table("hook_answer")
    op.drop_table("dtr_access")
