"""The CapabilityStatement of the payer's DTR FHIR endpoint (`GET /fhir/metadata`, FHIR R4
"capabilities"): the resources, interactions, search parameters and operations the routes
serve, and SMART security. It instantiates DTR 2.0.1's payer CapabilityStatement
(dtr-payer-service), whose operations are $questionnaire-package (SHALL), ValueSet/$expand
(SHALL) and $next-question (SHOULD).

$next-question is not listed: our Questionnaires are standard forms, for which DTR 2.0.1 needs
only $questionnaire-package ("Standard vs Adaptive" table); docs/decisions/0005.

The same endpoint serves PAS 2.0.1 (service/api/pas.py, subscriptions.py), so the statement lists
it too: Claim with $submit and $inquire, ClaimResponse reads, and Subscription with the PAS topic
it supports (Subscriptions Backport: `capabilitystatement-subscriptiontopic-canonical`; PAS: the
Subscription support SHALL be declared here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.dtr.content import TYPES, ContentStore
from service.dtr.operation_definitions import evaluate_url
from service.settings import Settings
from service.types import JsonObject, Resource

DTR_PAYER_SERVICE = "http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service"
DTR_IG = "http://hl7.org/fhir/us/davinci-dtr/ImplementationGuide/hl7.fhir.us.davinci-dtr"
DTR_VERSION = "2.0.1"
DTR_OPERATIONS = "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition"
VALUESET_EXPAND = "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"
PAS_IG = "http://hl7.org/fhir/us/davinci-pas/ImplementationGuide/hl7.fhir.us.davinci-pas"
PAS_VERSION = "2.0.1"
PAS_OPERATIONS = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition"
PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
# R4 CapabilityStatement.date: when this statement's content last changed. Change it with it.
STATEMENT_DATE = "2026-12-07"


@dataclass(frozen=True)
class Operation:
    name: str
    resource: str
    definition: str
    documentation: str


def operations(canonical_base: str) -> tuple[Operation, ...]:
    """Every operation served, on the resource type it is invoked on."""
    return (*_dtr_operations(canonical_base), *_pas_operations())


def _dtr_operations(canonical_base: str) -> tuple[Operation, ...]:
    return (
        Operation(
            "questionnaire-package",
            "Questionnaire",
            f"{DTR_OPERATIONS}/questionnaire-package",
            "Needs a token (Questionnaire.r): the package carries the pre-filled answers.",
        ),
        Operation(
            "log-questionnaire-errors",
            "Questionnaire",
            f"{DTR_OPERATIONS}/log-questionnaire-errors",
            "Needs a token (Questionnaire.r). Takes Questionnaire/questionnaire and "
            "OperationOutcome/operationOutcome, the two spellings of DTR 2.0.1.",
        ),
        Operation(
            "expand",
            "ValueSet",
            VALUESET_EXPAND,
            "Public. Type level with url (valueSetVersion) or instance level; filter, count and "
            "offset. A ValueSet that selects codes by filter is a 422: it cannot be listed here.",
        ),
        Operation(
            "evaluate",
            "QuestionnaireResponse",
            evaluate_url(canonical_base),
            "Needs a token (QuestionnaireResponse.r). Nothing is stored.",
        ),
    )


def _pas_operations() -> tuple[Operation, ...]:
    """PAS 2.0.1's Claim operations and the Subscriptions Backport's $status."""
    return (
        Operation(
            "submit",
            "Claim",
            f"{PAS_OPERATIONS}/Claim-submit|{PAS_VERSION}",
            "PAS Claim Request. Needs a token (system/Claim.c). Every request is pended for "
            "review; the decision comes by Subscription or $inquire.",
        ),
        Operation(
            "inquire",
            "Claim",
            f"{PAS_OPERATIONS}/Claim-inquiry|{PAS_VERSION}",
            "PAS Claim Inquiry. Needs a token (system/Claim.r). The caller's own requests only.",
        ),
        Operation(
            "status",
            "Subscription",
            f"{BACKPORT}/OperationDefinition/backport-subscription-status",
            "Needs a token (system/Subscription.r). On one Subscription or the caller's.",
        ),
    )


def capability_statement(
    settings: Settings, content: ContentStore, canonical_base: str, software_version: str
) -> Resource:
    base = settings.base_url.rstrip("/")
    return {
        "resourceType": "CapabilityStatement",
        "name": "PayerDtrService",
        "title": f"{settings.payer_name} DTR payer service",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": settings.payer_name,
        "description": "Da Vinci DTR payer service: Questionnaire packages, their Libraries, "
        "ValueSets and CodeSystems, QuestionnaireResponse intake, and $evaluate.",
        "kind": "instance",
        "instantiates": [f"{DTR_PAYER_SERVICE}|{DTR_VERSION}"],
        "software": {"name": "coverage-requirements-service", "version": software_version},
        "implementation": {
            "description": f"{settings.payer_name} DTR payer service",
            "url": f"{base}/fhir",
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementationGuide": [f"{DTR_IG}|{DTR_VERSION}", f"{PAS_IG}|{PAS_VERSION}"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Standard (not adaptive) Questionnaires only: DTR clients fill "
                "them in from the $questionnaire-package; $next-question is not offered.",
                "security": _security(settings, base),
                "resource": _resources(content, operations(canonical_base)),
            }
        ],
    }


def _security(settings: Settings, base: str) -> JsonObject:
    """SMART App Launch 2 (service/auth/router.py): discovery at
    /fhir/.well-known/smart-configuration, the token endpoint named here as well."""
    return {
        "extension": [
            {
                "url": OAUTH_URIS,
                "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}],
            }
        ],
        "cors": bool(settings.cors_allowed_origins),
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}],
                "text": "SMART Backend Services, or a token exchange for the prescriber's app",
            }
        ],
        "description": "Patient data (QuestionnaireResponse, $questionnaire-package, $evaluate, "
        "$log-questionnaire-errors) needs a bearer token from the token endpoint (DTR: payers "
        "SHALL require DTR clients to authenticate). Published content, $expand and this "
        "statement are public.",
    }


def _resources(content: ContentStore, served: Sequence[Operation]) -> list[JsonObject]:
    found = [
        _resource(
            kind,
            ["read", "search-type"],
            [("url", "uri", "The canonical, optionally with |version")],
            _profiles(content, kind),
        )
        for kind in TYPES
    ]
    found += [*_dtr_and_pas_resources(), _subscription()]
    for entry in found:
        ours = [
            {"name": o.name, "definition": o.definition, "documentation": o.documentation}
            for o in served
            if o.resource == entry["type"]
        ]
        if ours:
            entry["operation"] = ours
    return found


def _dtr_and_pas_resources() -> list[JsonObject]:
    """The responses DTR clients send, the operations' definitions, and PAS's Claim and
    ClaimResponse."""
    return [
        _resource(
            "QuestionnaireResponse",
            ["create", "read", "search-type"],
            [
                ("subject", "reference", "The patient (Patient/{id})"),
                ("patient", "reference", "The patient id"),
                ("status", "token", "in-progress | completed | amended"),
            ],
            [],
            "Only the caller's own responses are read or found. A create is idempotent on "
            "the response's identifier, per client.",
        ),
        _resource("OperationDefinition", ["read"], [], []),
        _resource(
            "Claim",
            [],
            [],
            [],
            "PAS 2.0.1: $submit and $inquire only; a Claim is not read or searched directly.",
        ),
        _resource(
            "ClaimResponse",
            ["read"],
            [],
            [],
            "The decision on one of the caller's requests (system/ClaimResponse.r).",
        ),
    ]


def _subscription() -> JsonObject:
    found = _resource(
        "Subscription",
        ["create", "read", "delete"],
        [],
        [f"{BACKPORT}/StructureDefinition/backport-subscription"],
        "Subscriptions Backport 1.1.0, rest-hook, to the PAS topic only, filtered by "
        "orgIdentifier; `requested` until its handshake is taken.",
    )
    topic = {
        "url": f"{BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical",
        "valueCanonical": PAS_TOPIC,
    }
    return {"extension": [topic], **found}


def _resource(
    kind: str,
    interactions: Sequence[str],
    search: Sequence[tuple[str, str, str]],
    profiles: Sequence[str],
    documentation: str | None = None,
) -> JsonObject:
    found: JsonObject = {"type": kind}
    if profiles:
        found["supportedProfile"] = list(profiles)
    if documentation:
        found["documentation"] = documentation
    if interactions:  # R4 JSON has no empty arrays (Claim: operations only)
        found["interaction"] = [{"code": code} for code in interactions]
    if search:
        found["searchParam"] = [
            {"name": name, "type": kind_, "documentation": text} for name, kind_, text in search
        ]
    return found


def _profiles(content: ContentStore, kind: str) -> list[str]:
    """The profiles our published resources of this type claim (meta.profile)."""
    return sorted(
        {
            profile
            for resource in content.all(kind)
            for profile in (resource.get("meta") or {}).get("profile", [])
        }
    )
