"""What one order-hook call is, and what it runs in: the parsed request with its CRD version,
configuration and day (`HookCall`), and the settings, policies, FHIR client and compiled engines
(`HookEnvironment`). Their own module so the answer builders and the orchestrator
(order_hook.py) depend on them, not on each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from service.cdshooks.contexts import HookContext
from service.cdshooks.models import HookRequest
from service.cdshooks.services import HookService
from service.crd.configuration import Configuration
from service.crd.versions import CrdVersion
from service.fhir.ehr_client import FhirClient
from service.policy.engine import PolicyEngine
from service.policy.folder import Policy
from service.settings import Settings


@dataclass(frozen=True)
class HookCall:
    service: HookService
    request: HookRequest
    context: HookContext
    version: CrdVersion
    configuration: Configuration
    today: date
    # The request's fhirServer when this caller may have us read from it (cds_hooks.py
    # `_fetchable`): outside development, one of the caller's registered FHIR servers.
    fhir_server: str | None


@dataclass(frozen=True)
class HookEnvironment:
    settings: Settings
    policies: Sequence[Policy]
    fhir: FhirClient
    engines: Mapping[str, PolicyEngine]  # policy id -> its compiled engine
