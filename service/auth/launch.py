"""Whether a SMART launch's access token really is for the patient it names: the EHR's FHIR
server, asked `GET Patient/{id}` with that token, answers with that Patient. The server must be
one we may call (FHIR_SERVER_ALLOWLIST, https outside development; service/fhir/ehr_client.py),
and the token goes nowhere else."""

from __future__ import annotations

from typing import Protocol

from service.errors import FetchError
from service.fhir.ehr_client import FhirClient

TIMEOUT_S = 3.0


class LaunchCheck(Protocol):
    async def reaches_patient(self, fhir_server: str, access_token: str, patient: str) -> bool: ...


class EhrLaunchCheck:
    def __init__(self, fhir: FhirClient) -> None:
        self._fhir = fhir

    async def reaches_patient(self, fhir_server: str, access_token: str, patient: str) -> bool:
        try:
            found = await self._fhir.get_json(
                fhir_server, f"Patient/{patient}", access_token, TIMEOUT_S
            )
        except FetchError:
            return False
        return found.get("resourceType") == "Patient" and found.get("id") == patient
