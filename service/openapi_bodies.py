"""Request bodies as the OpenAPI document describes them. The handlers read raw JSON (orjson,
with our own checks and OperationOutcomes), so FastAPI cannot infer these; they are written down
here for integrators and for schema-driven testing. They describe the shape of a valid request,
not every rule: the service still refuses what the standards refuse."""

from __future__ import annotations

from typing import Any

_REFERENCE = {"type": "string", "pattern": "^[A-Za-z]+/[A-Za-z0-9.-]{1,64}$"}
_RESOURCE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}
_BUNDLE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"type": "string"},
        "entry": {
            "type": "array",
            "items": {"type": "object", "properties": {"resource": _RESOURCE}},
        },
    },
}

HOOK_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "CDS Hooks 2.0 service request (order-sign, order-select, order-dispatch).",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {"type": "string", "enum": ["order-sign", "order-select", "order-dispatch"]},
        "hookInstance": {"type": "string", "format": "uuid"},
        "fhirServer": {"type": "string", "format": "uri"},
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
            },
        },
        "context": {
            "type": "object",
            "properties": {
                "userId": _REFERENCE,
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
                "draftOrders": _BUNDLE,
                "selections": {"type": "array", "items": _REFERENCE},
                "dispatchedOrders": {"type": "array", "items": _REFERENCE},
                "performer": _REFERENCE,
            },
        },
        "prefetch": {
            "type": "object",
            "additionalProperties": {"anyOf": [_RESOURCE, {"type": "null"}]},
        },
        "extension": {"type": "object"},
    },
}

FEEDBACK: dict[str, Any] = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["card", "outcome", "outcomeTimestamp"],
                "properties": {
                    "card": {"type": "string"},
                    "outcome": {"enum": ["accepted", "overridden"]},
                    "outcomeTimestamp": {"type": "string", "format": "date-time"},
                    "acceptedSuggestions": {"type": "array", "items": {"type": "object"}},
                    "overrideReason": {"type": "object"},
                },
            },
        }
    },
}


def _parameters(
    description: str, names: list[str], values: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """A FHIR Parameters body whose parameters are among `names`, each with one of `values`."""
    return {
        "type": "object",
        "description": description,
        "required": required,
        "properties": {
            "resourceType": {"const": "Parameters"},
            "parameter": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"enum": names}, **values},
                },
            },
        },
    }


PARAMETERS = _parameters(
    "FHIR Parameters: context (coverage-assertion-id), or order (+ coverage); "
    "optionally questionnaire (canonical).",
    ["context", "order", "coverage", "questionnaire"],
    {
        "valueString": {"type": "string"},
        "valueCanonical": {"type": "string"},
        "resource": _RESOURCE,
    },
    ["resourceType"],
)

_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["linkId"],
    "properties": {
        "linkId": {"type": "string"},
        "answer": {"type": "array", "items": {"type": "object"}},
        "item": {"type": "array", "items": {"type": "object"}},
    },
}
QUESTIONNAIRE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "description": "FHIR R4 QuestionnaireResponse to the policy's Questionnaire.",
    "required": ["resourceType", "status", "questionnaire"],
    "properties": {
        "resourceType": {"const": "QuestionnaireResponse"},
        "status": {"enum": ["in-progress", "completed", "amended"]},
        "questionnaire": {"type": "string"},
        "identifier": {"type": "object"},
        "subject": {"type": "object"},
        "item": {"type": "array", "items": _ITEM},
    },
}


def request_body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    """`openapi_extra` for a route that reads this body."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


EXPAND_PARAMETERS = _parameters(
    "FHIR Parameters for ValueSet/$expand: url (+ valueSetVersion), filter, count, offset.",
    ["url", "valueSetVersion", "filter", "count", "offset"],
    {
        "valueUri": {"type": "string"},
        "valueString": {"type": "string"},
        "valueInteger": {"type": "integer", "minimum": 0},
    },
    ["resourceType"],
)

LOG_ERRORS_PARAMETERS = _parameters(
    "FHIR Parameters for Questionnaire/$log-questionnaire-errors (DTR 2.0.1): "
    "the Questionnaire's canonical and an OperationOutcome.",
    ["Questionnaire", "questionnaire", "OperationOutcome", "operationOutcome"],
    {"valueCanonical": {"type": "string"}, "resource": _RESOURCE},
    ["resourceType", "parameter"],
)
