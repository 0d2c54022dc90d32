"""The payer's answer to a PAS request, shaped by PAS STU 2.0.1 (profile-claimresponse inside
profile-pas-response-bundle): the ClaimResponse first, then the resources it references, copied
from the request (the Patient, the insurer, the requestor). A relative reference (`Patient/x`)
resolves against the ClaimResponse's fullUrl (R4 Bundle, "Resolving references in Bundles"), so
an entry so referenced gets the fullUrl it then names, not the request's; one referenced by its
fullUrl keeps it.

Each item's adjudication carries the reviewAction extension with its X12 306 action code: A4
pended (every request goes to clinical review, policy section 2), A1 certified in total
(approved: the authorization number in preAuthRef and in the action's number, the period in
preAuthPeriod and the item's itemPreAuthPeriod), A3 not certified (denied: the reason, tied to the
policy's criterion, in the adjudication's reason, the disposition and a process note).
`outcome` is `queued` while a decision is pending and `complete` once one is made (a cancellation
too: X12 306 C).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from service.pas.submission import PAS, Submission
from service.types import JsonObject, Resource

CLAIM_RESPONSE = f"{PAS}/StructureDefinition/profile-claimresponse"
RESPONSE_BUNDLE = f"{PAS}/StructureDefinition/profile-pas-response-bundle"
REVIEW_ACTION = f"{PAS}/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE = f"{PAS}/StructureDefinition/extension-reviewActionCode"
ITEM_PREAUTH_PERIOD = f"{PAS}/StructureDefinition/extension-itemPreAuthPeriod"
# The request item's trace numbers, echoed so the EHR matches our item to its own (PAS 2.0.1
# must-support on both sides).
ITEM_TRACE_NUMBER = f"{PAS}/StructureDefinition/extension-itemTraceNumber"
ITEM_PREAUTH_ISSUE_DATE = f"{PAS}/StructureDefinition/extension-itemPreAuthIssueDate"
X12_306 = "https://codesystem.x12.org/005010/306"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
# Action code and display, per state (A1, A3, A4 as the IG and its test kit use them; C is X12's
# cancel).
ACTIONS = {
    "pended": ("A4", "Pending"),
    "more-info": ("A4", "Pending"),
    "approved": ("A1", "Certified in total"),
    "denied": ("A3", "Not Certified"),
    "cancelled": ("C", "Cancelled"),
}


@dataclass(frozen=True)
class Decision:
    """Where a request stands, as the ClaimResponse tells it."""

    state: str  # pended | more-info | approved | denied | cancelled
    note: str | None = None
    preauth_ref: str | None = None
    period: tuple[date, date] | None = None
    # Denial: the payer's reason code (its system and code) and the words for it.
    reason: tuple[str, str, str] | None = None
    # What more information is asked for (more-info), each a line of text.
    asks: tuple[str, ...] = field(default_factory=tuple)
    # Notes after the reviewer's (a denial: whom to ask for reconsideration).
    notes_after: tuple[str, ...] = field(default_factory=tuple)
    # The sequences of the items the payer does not adjudicate (ClaimResponse.error).
    not_adjudicated: tuple[int, ...] = field(default_factory=tuple)


def claim_response(
    submission: Submission, response_id: str, base_url: str, decision: Decision, at: datetime
) -> Resource:
    claim = submission.claim
    # remittance-outcome has no "cancelled": a cancellation is a complete answer (action C).
    outcome = {"approved": "complete", "denied": "complete", "cancelled": "complete"}
    built: Resource = {
        "resourceType": "ClaimResponse",
        "id": response_id,
        "meta": {"profile": [CLAIM_RESPONSE]},
        "identifier": [{"system": f"{base_url}/fhir/ClaimResponse", "value": response_id}],
        "status": "active",
        "type": claim["type"],
        "use": "preauthorization",
        "patient": claim["patient"],
        "created": at.isoformat(timespec="seconds"),
        "insurer": claim["insurer"],
        "requestor": claim["provider"],
        "request": {"identifier": claim["identifier"][0]},
        "outcome": outcome.get(decision.state, "queued"),
        "item": [
            _item(item, decision, at, echoed(claim, item))
            for item in claim["item"]
            if item["sequence"] not in decision.not_adjudicated
        ],
    }
    errors = item_errors(claim, decision.not_adjudicated)
    if errors:
        built["error"] = errors
        # remittance-outcome: complete with errors in some items is `partial`.
        built["outcome"] = "partial" if built["outcome"] == "complete" else built["outcome"]
    if decision.preauth_ref:
        built["preAuthRef"] = decision.preauth_ref
    if decision.period:
        built["preAuthPeriod"] = _period(decision.period)
    if decision.asks:
        asked = [i for i in claim["item"] if i["sequence"] not in decision.not_adjudicated]
        built["contained"] = [_asking(decision, claim, asked, at, built["identifier"][0])]
        built["communicationRequest"] = [{"reference": f"#{ASKING_ID}"}]
    _add_notes(built, decision)
    built["disposition"] = _disposition(decision)
    return built


def _add_notes(built: Resource, decision: Decision) -> None:
    """processNote: the reviewer's note, one per item not adjudicated, the asks, what follows;
    each item answered points (noteNumber) to the notes about it, all but the other items'."""
    notes = [decision.note] if decision.note else []
    about_items = len(notes) + len(decision.not_adjudicated)
    notes += [
        f"Item {sequence}: no policy of this payer's prior-authorization service is about the "
        "service it asks for; it is not adjudicated here."
        for sequence in decision.not_adjudicated
    ]
    notes += list(decision.asks) + list(decision.notes_after)
    if notes:
        built["processNote"] = [
            {"number": n, "type": "display", "text": text} for n, text in enumerate(notes, 1)
        ]
        numbers = [1] * bool(decision.note) + list(range(about_items + 1, len(notes) + 1))
        for item in built["item"] if numbers else []:
            item["noteNumber"] = numbers


# ClaimResponse.error.code is bound (required) to X12 901 reject reasons, followupAction to X12
# 889, as in the IG's ErrorResponseExample. The codes are those X12's 278 response allows at the
# service level (AAA at loop 2000F): 33 Input Errors; N Resubmission Not Allowed (the same item
# sent again is still not ours to decide).
ERROR_PATH = f"{PAS}/StructureDefinition/extension-errorPath"
ERROR_FOLLOWUP = f"{PAS}/StructureDefinition/extension-errorFollowupAction"
# errorElement names the X12 loop, segment or element in error: an item is the 278 request's
# service level, loop 2000F.
ERROR_ELEMENT = f"{PAS}/StructureDefinition/extension-errorElement"
X12_SERVICE_LOOP = "2000F"
X12_901 = "https://codesystem.x12.org/005010/901"
X12_889 = "https://codesystem.x12.org/005010/889"


def item_errors(claim: Resource, sequences: tuple[int, ...]) -> list[JsonObject]:
    """One error per item not adjudicated, naming the Claim's item by its path and sequence."""
    return [
        {
            "extension": [
                {"url": ERROR_PATH, "valueString": f"Claim.item[{index}]"},
                {"url": ERROR_ELEMENT, "valueString": X12_SERVICE_LOOP},
                {
                    "url": ERROR_FOLLOWUP,
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": X12_889, "code": "N", "display": "Resubmission Not Allowed"}
                        ]
                    },
                },
            ],
            "itemSequence": item["sequence"],
            "code": {
                "coding": [{"system": X12_901, "code": "33", "display": "Input Errors"}],
                "text": "No policy of this payer's prior-authorization service is about this "
                "item's service: it is not adjudicated here.",
            },
        }
        for index, item in enumerate(claim["item"])
        if item["sequence"] in sequences
    ]


ASKING_ID = "more-information"
COMMUNICATION_REQUEST = f"{PAS}/StructureDefinition/profile-communicationrequest"


# How the asked information is to come (PASCommunicationRequestMedium, X12 756): electronically,
# the form reopened and the request updated.
X12_756 = "https://codesystem.x12.org/005010/756"
SERVICE_LINE_NUMBER = f"{PAS}/StructureDefinition/extension-serviceLineNumber"


def _asking(
    decision: Decision, claim: Resource, items: list[Resource], at: datetime, of: JsonObject
) -> Resource:
    """What more information is needed, as PAS 2.0.1 asks a payer to say it: a CommunicationRequest
    (profile-communicationrequest) from the insurer to the requesting provider, each line of the
    ask a payload; the EHR answers by reopening the form (DTR) and submitting an update. Contained
    in the ClaimResponse, so it travels wherever the ClaimResponse does (inquiry, notification).
    Its identifier (X12's attachment control number) is the ClaimResponse's id with `-ask`; the
    provider is to send what is asked; each line names the item asked about when there is one,
    and the diagnoses of the items asked about."""
    about: list[JsonObject] = [
        {"url": COMMUNICATED_DIAGNOSIS, "valueCodeableConcept": diagnosis}
        for item in items
        for diagnosis in item_diagnoses(claim, item)
    ]
    base = of["system"].rsplit("/", 1)[0]
    if len(items) == 1:
        about.insert(0, {"url": SERVICE_LINE_NUMBER, "valuePositiveInt": items[0]["sequence"]})
    return {
        "resourceType": "CommunicationRequest",
        "id": ASKING_ID,
        "meta": {"profile": [COMMUNICATION_REQUEST]},
        "identifier": [{"system": f"{base}/CommunicationRequest", "value": f"{of['value']}-ask"}],
        "status": "active",
        "medium": [
            {"coding": [{"system": X12_756, "code": "EL", "display": "Electronically Only"}]}
        ],
        "subject": claim["patient"],
        "authoredOn": at.isoformat(timespec="seconds"),
        "requester": claim["insurer"],
        "recipient": [claim["provider"]],
        "sender": claim["provider"],
        "payload": [
            {"extension": about, "contentString": line} if about else {"contentString": line}
            for line in decision.asks
        ],
    }


def response_bundle(submission: Submission, response: Resource, base_url: str) -> Resource:
    """The ClaimResponse first, then what it references, as the request carried them."""
    wanted = {
        reference
        for element in ("patient", "insurer", "requestor")
        if isinstance(reference := (response.get(element) or {}).get("reference"), str)
    }
    entries: list[JsonObject] = [
        {"fullUrl": f"{base_url}/fhir/ClaimResponse/{response['id']}", "resource": response}
    ]
    for entry in submission.bundle.get("entry") or []:
        resource = entry["resource"]
        relative = f"{resource.get('resourceType')}/{resource.get('id')}"
        if entry["fullUrl"] in wanted:
            entries.append({"fullUrl": entry["fullUrl"], "resource": resource})
        elif relative in wanted:
            entries.append({"fullUrl": f"{base_url}/fhir/{relative}", "resource": resource})
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [RESPONSE_BUNDLE]},
        "identifier": {"system": f"{base_url}/fhir/Bundle", "value": response["id"]},
        "type": "collection",
        "timestamp": response["created"],
        "entry": entries,
    }


def _item(item: Resource, decision: Decision, at: datetime, echo: list[JsonObject]) -> Resource:
    code, display = ACTIONS[decision.state]
    action: list[JsonObject] = [
        {
            # The code's slice is an extension of its own, named by its absolute URL.
            "url": REVIEW_ACTION_CODE,
            "valueCodeableConcept": {
                "coding": [{"system": X12_306, "code": code, "display": display}]
            },
        }
    ]
    if decision.preauth_ref:
        action.insert(0, {"url": "number", "valueString": decision.preauth_ref})
    adjudication: Resource = {
        "extension": [{"url": REVIEW_ACTION, "extension": action}],
        "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
    }
    if decision.reason:
        # The payer's own reason, tied to the policy's criterion. reviewAction.reasonCode is
        # bound (required) to X12's HCR reason codes, which are licensed and not ours to guess;
        # the adjudication's reason takes any code system.
        system, reason_code, words = decision.reason
        adjudication["reason"] = {
            "coding": [{"system": system, "code": reason_code}],
            "text": words,
        }
    built: Resource = {"itemSequence": item["sequence"], "adjudication": [adjudication]}
    extensions: list[JsonObject] = [
        e for e in item.get("extension") or [] if e.get("url") == ITEM_TRACE_NUMBER
    ] + echo
    if decision.state == "approved":
        extensions.append({"url": ITEM_PREAUTH_ISSUE_DATE, "valueDate": at.date().isoformat()})
        if decision.period:
            extensions.append({"url": ITEM_PREAUTH_PERIOD, "valuePeriod": _period(decision.period)})
    if extensions:
        built["extension"] = extensions
    return built


# What the request said of an item, echoed on the answer's item (PAS 2.0.1 must-support): the
# date or period of service asked for, and the diagnoses the item points to.
ITEM_REQUESTED_SERVICE_DATE = f"{PAS}/StructureDefinition/extension-itemRequestedServiceDate"
COMMUNICATED_DIAGNOSIS = f"{PAS}/StructureDefinition/extension-communicatedDiagnosis"


def item_diagnoses(claim: Resource, item: Resource) -> list[JsonObject]:
    """The coded diagnoses of the Claim that the item's diagnosisSequence names."""
    wanted = set(item.get("diagnosisSequence") or [])
    return [
        d["diagnosisCodeableConcept"]
        for d in claim.get("diagnosis") or []
        if d.get("sequence") in wanted and "diagnosisCodeableConcept" in d
    ]


def echoed(claim: Resource, item: Resource) -> list[JsonObject]:
    """The extensions that echo the request item's diagnoses and date of service."""
    echo: list[JsonObject] = [
        {"url": COMMUNICATED_DIAGNOSIS, "valueCodeableConcept": diagnosis}
        for diagnosis in item_diagnoses(claim, item)
    ]
    for key, value_key in (("servicedDate", "valueDateTime"), ("servicedPeriod", "valuePeriod")):
        if key in item:
            echo.append({"url": ITEM_REQUESTED_SERVICE_DATE, value_key: item[key]})
    return echo


def _period(period: tuple[date, date]) -> JsonObject:
    return {"start": period[0].isoformat(), "end": period[1].isoformat()}


def _disposition(decision: Decision) -> str:
    if decision.state == "approved":
        return f"Approved: authorization {decision.preauth_ref}."
    if decision.state == "denied":
        reason = decision.reason[2] if decision.reason else "see the note"
        return f"Denied: {reason}."
    if decision.state == "more-info":
        return "Pended: more information is needed; see the notes."
    if decision.state == "cancelled":
        return "Cancelled at the submitter's request."
    return "Pended for clinical review."
