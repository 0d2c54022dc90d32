"""The OperationDefinitions this service defines itself (FHIR R4 OperationDefinition), served at
`/fhir/OperationDefinition/{id}`: `QuestionnaireResponse/$evaluate`
(service/api/questionnaire_responses.py). The other operations we implement are defined by DTR
2.0.1 ($questionnaire-package, $log-questionnaire-errors) and FHIR R4 (ValueSet/$expand); the
CapabilityStatement names them by their canonicals, and their publishers, not we, serve those
definitions."""

from __future__ import annotations

from service.policy.contract import LimitKind
from service.policy.evaluation import Outcome, Status
from service.types import JsonObject, Resource

EVALUATE_ID = "QuestionnaireResponse-evaluate"


def evaluate_url(canonical_base: str) -> str:
    return f"{canonical_base}/OperationDefinition/{EVALUATE_ID}"


def definitions(canonical_base: str) -> dict[str, Resource]:
    """Ours, by id."""
    return {EVALUATE_ID: evaluate_definition(canonical_base)}


def evaluate_definition(canonical_base: str) -> Resource:
    return {
        "resourceType": "OperationDefinition",
        "id": EVALUATE_ID,
        "url": evaluate_url(canonical_base),
        "name": "QuestionnaireResponseEvaluate",
        "title": "Evaluate a QuestionnaireResponse against the payer's policy",
        "status": "active",
        "kind": "operation",
        "description": (
            "Evaluates the answers of a QuestionnaireResponse to one of this payer's "
            "Questionnaires with the same policy engine CRD uses, answers overriding what the "
            "record showed, and returns the outcome, each criterion with its evidence, the "
            "paths met and the dose and cycle limits that would apply. Nothing is stored; the "
            "prescriber's form asks on each change."
        ),
        "comment": (
            "The QuestionnaireResponse is the request body itself, not wrapped in Parameters. A "
            "response that does not fit its Questionnaire is refused with a 422 OperationOutcome. "
            "Requires a token granting QuestionnaireResponse.r."
        ),
        "code": "evaluate",
        "resource": ["QuestionnaireResponse"],
        "system": False,
        "type": True,
        "instance": False,
        "affectsState": False,
        "parameter": [_input(), *_outputs()],
    }


def _input() -> JsonObject:
    return _parameter(
        "questionnaire-response",
        "in",
        "1",
        "QuestionnaireResponse",
        "in-progress, completed or amended, to one of this payer's Questionnaires; the CRD "
        "coverage-assertion-id tag $questionnaire-package put on it names the order evaluated.",
    )


_STATUS_WORDS = "The status in the policy's words; a known yes/no criterion says its answer."
_VALUE = (
    "The value the status rests on, typed as the policy declares it: valueBoolean, valueCoding "
    "(with the display of the policy's terminology), valueQuantity (UCUM code, full precision), "
    "valueInteger, valueDate or valueString. Decisions are made on it, never on its display."
)
_DISPLAY = "The value in the policy's words, for people (a code's display, an amount and its unit)."
_EVIDENCE = "What the status rests on: a questionnaire answer or a resource."
_BASIS = "How the limit was set or, while it is not known, why not (the policy's words)."


def _evidence_parts() -> list[JsonObject]:
    return [
        _parameter("kind", "out", "1", "code", "answer | resource", minimum=1),
        _parameter("linkId", "out", "1", "string", "The answer's linkId."),
        _parameter("reference", "out", "1", "Reference", "The resource."),
    ]


def _outputs() -> list[JsonObject]:
    outcomes = " | ".join(outcome.value for outcome in Outcome)
    return [
        _parameter("outcome", "out", "1", "code", outcomes, minimum=1),
        _parameter("criterion", "out", "*", None, "One per policy criterion.", part=_criterion()),
        _parameter("path", "out", "*", None, "One per way the policy can be met.", part=_path()),
        _parameter(
            "limit",
            "out",
            "*",
            None,
            "One per limit the policy declares (a quantity, a count or a period).",
            part=_limit(),
        ),
        _parameter(
            "evaluationDate",
            "out",
            "1",
            "date",
            "The day the policy was evaluated on (ages and recency are counted to it).",
        ),
    ]


def _criterion() -> list[JsonObject]:
    statuses = " | ".join(status.value for status in Status)
    return [
        _parameter("id", "out", "1", "string", "The policy's id for it.", minimum=1),
        _parameter("label", "out", "1", "string", "The policy's words.", minimum=1),
        _parameter("status", "out", "1", "code", statuses, minimum=1),
        _parameter("statusDisplay", "out", "1", "string", _STATUS_WORDS, minimum=1),
        _parameter("value", "out", "1", "Element", _VALUE),
        _parameter("display", "out", "1", "string", _DISPLAY),
        _parameter("evidence", "out", "*", None, _EVIDENCE, part=_evidence_parts()),
        _parameter("flag", "out", "1", "string", "What the record disagrees on."),
    ]


def _path() -> list[JsonObject]:
    statuses = " | ".join(status.value for status in Status)
    return [
        _parameter("id", "out", "1", "string", "The policy's id for it.", minimum=1),
        _parameter("status", "out", "1", "code", statuses, minimum=1),
    ]


def _limit() -> list[JsonObject]:
    kinds = " | ".join(kind.value for kind in LimitKind)
    return [
        _parameter("id", "out", "1", "string", "The policy's id for it.", minimum=1),
        _parameter("kind", "out", "1", "code", kinds, minimum=1),
        _parameter("criterion", "out", "1", "string", "Its criterion.", minimum=1),
        _parameter("label", "out", "1", "string", "The policy's words.", minimum=1),
        _parameter("unit", "out", "1", "string", "A quantity's unit, as shown."),
        _parameter("value", "out", "1", "Quantity", "A quantity limit, when known."),
        _parameter("display", "out", "1", "string", "A quantity limit, in words."),
        _parameter("count", "out", "1", "integer", "A count limit, when known."),
        _parameter("period", "out", "1", "Period", "A period limit, from its start."),
        _parameter("ordered", "out", "1", "Quantity", "What the order asks for."),
        _parameter("length", "out", "1", "Quantity", "A period's length (years)."),
        _parameter("basis", "out", "1", "string", _BASIS),
    ]


def _parameter(
    name: str,
    use: str,
    maximum: str,
    kind: str | None,
    documentation: str,
    minimum: int = 0,
    part: list[JsonObject] | None = None,
) -> JsonObject:
    found: JsonObject = {
        "name": name,
        "use": use,
        "min": minimum,
        "max": maximum,
        "documentation": documentation,
    }
    if kind is not None:
        found["type"] = kind
    if part is not None:  # R4 opd-1: a type, or parts
        found["part"] = part
    return found
