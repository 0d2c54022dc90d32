"""The discovery document (CDS Hooks 2.0 "Discovery") with the CRD extensions
`davinci-crd.version` (dev-1, dev-2) and `davinci-crd.configuration-options` (dev-4, dev-5)."""

from __future__ import annotations

from collections.abc import Sequence

from service.cdshooks.services import SERVICES, HookService, prefetch_templates
from service.crd.configuration import OPTIONS
from service.crd.versions import SUPPORTED
from service.policy.folder import Policy
from service.types import JsonObject


def discovery_document(policies: Sequence[Policy]) -> JsonObject:
    return {"services": [_service(service, policies) for service in SERVICES]}


def _service(service: HookService, policies: Sequence[Policy]) -> JsonObject:
    return {
        "hook": service.hook,
        "id": service.id,
        "title": service.title,
        "description": service.description,
        "prefetch": {
            t.key: t.query for t in prefetch_templates(service, policies, advertised=True)
        },
        "usageRequirements": "Send a JWT bearer token (CDS Hooks 2.0 client authentication) and, "
        "when prefetch is incomplete, fhirServer with fhirAuthorization.",
        "extension": {
            "davinci-crd.version": sorted(SUPPORTED),
            "davinci-crd.configuration-options": [option.as_json() for option in OPTIONS],
        },
    }
