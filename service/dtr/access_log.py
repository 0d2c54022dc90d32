"""The DTR access audit: who fetched which patient's pre-fill, stored, read, searched or evaluated
which response (DTR access to PHI, kept like the hook audit: the patient as a keyed hash, written
off the request path by the batched writer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.auth.callers import Caller
from service.clock import Clock
from service.storage.audit import AuditLog, patient_hash
from service.storage.tables import DtrAccess
from service.types import Resource


def record_access(
    audit: AuditLog,
    key: bytes,
    clock: Clock,
    caller: Caller,
    action: str,
    patient_id: str | None,
    target: str | None,
    status_code: int = 200,
) -> None:
    row = access_row(key, clock.now(), caller.client_id, action, patient_id, target, status_code)
    audit.store(DtrAccess, row)


def access_row(
    key: bytes,
    at: datetime,
    client_id: str,
    action: str,
    patient_id: str | None,
    target: str | None,
    status_code: int = 200,
) -> dict[str, Any]:
    """One `DtrAccess` row: who touched which patient's data, the patient id hashed."""
    return {
        "at": at,
        "client_id": client_id,
        "action": action,
        "patient_hash": patient_hash(patient_id, key),
        "target": target[:255] if target else None,
        "status_code": status_code,
    }


def subject_patient(resource: Resource) -> str | None:
    """The patient id a resource's `subject` names, if it names one."""
    subject = resource.get("subject")
    return patient_of(subject.get("reference")) if isinstance(subject, dict) else None


def patient_of(reference: object) -> str | None:
    """`Patient/123` (or a full URL ending so) -> `123`."""
    if not isinstance(reference, str) or "Patient/" not in reference:
        return None
    return reference.rsplit("Patient/", 1)[1].split("/")[0] or None
