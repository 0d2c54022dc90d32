"""The QuestionnaireResponses DTR clients send, kept as received (committed before the 201) and
read back only by the client that sent them (and, for a launch token, for its patient): the store
the intake, read and search routes use. Another client's response reads as none at all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.crd_answers import Viewer
from service.storage.tables import StoredResponse
from service.types import Resource

SEARCH_LIMIT = 100


class Reader(Viewer, Protocol):
    """Who reads: service/auth/callers.py Caller."""

    @property
    def client_id(self) -> str: ...

    @property
    def patient(self) -> str | None: ...

    @property
    def fhir_server(self) -> str | None: ...

    @property
    def unrestricted(self) -> bool: ...


@dataclass(frozen=True)
class Sender:
    """Who a response is bound to: the client, its FHIR server, the patient it is about."""

    client_id: str
    fhir_server: str | None
    patient_id: str | None


def identifier_key(response: Resource) -> str | None:
    """`system|value` of the response's identifier, the idempotency key per client."""
    identifier = response.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        return f"{identifier.get('system', '')}|{identifier['value']}"
    return None


def save_response(
    session: Session,
    response: Resource,
    sender: Sender,
    assertion_id: str | None,
    received_at: datetime,
) -> tuple[Resource, bool, str | None]:
    """(the stored response, whether it is new, its patient). The same identifier again from the
    same client returns what was stored."""
    identifier = identifier_key(response)
    if identifier is not None:
        existing = session.scalars(
            select(StoredResponse).where(
                StoredResponse.client_id == sender.client_id,
                StoredResponse.identifier == identifier,
            )
        ).first()
        if existing is not None:
            return dict(existing.resource), False, existing.patient_id
    stored = {**response, "id": str(uuid.uuid4())}
    session.add(
        StoredResponse(
            id=stored["id"],
            identifier=identifier,
            client_id=sender.client_id,
            fhir_server=sender.fhir_server,
            patient_id=sender.patient_id,
            assertion_id=assertion_id,
            status=str(response["status"]),
            received_at=received_at,
            resource=stored,
        )
    )
    return stored, True, sender.patient_id


def read_response(
    session: Session, response_id: str, reader: Reader
) -> tuple[Resource, str | None] | None:
    """(the response, its patient); None when unknown or not this reader's, alike."""
    row = session.get(StoredResponse, response_id[:64])
    if row is None or not reader.may_see(row.client_id, row.patient_id, row.fhir_server):
        return None
    return dict(row.resource), row.patient_id


def search_responses(
    session: Session, reader: Reader, patient: str | None, status: str | None
) -> list[Resource]:
    """The reader's own responses, newest first, at most SEARCH_LIMIT."""
    statement = (
        select(StoredResponse).order_by(StoredResponse.received_at.desc()).limit(SEARCH_LIMIT)
    )
    if not reader.unrestricted:
        statement = statement.where(StoredResponse.client_id == reader.client_id)
    if reader.patient is not None:  # before the limit: another site's rows crowd out none
        statement = statement.where(
            StoredResponse.patient_id == reader.patient,
            StoredResponse.fhir_server == reader.fhir_server,
        )
    if patient is not None:
        statement = statement.where(StoredResponse.patient_id == patient)
    if status is not None:
        statement = statement.where(StoredResponse.status == status)
    return [
        dict(row.resource)
        for row in session.scalars(statement)
        if reader.may_see(row.client_id, row.patient_id, row.fhir_server)
    ]
