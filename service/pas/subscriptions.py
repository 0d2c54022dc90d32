"""Subscriptions to prior-authorization decisions: R4 Subscriptions in the shape of the
Subscriptions R5 Backport IG (backport-subscription), on PAS's topic, delivered by rest-hook.

A Subscription names the PAS topic in `criteria`, exactly one filter (`org-identifier=<the
requesting organization's identifier>`; PAS 2.0.1's `identifier = <id>` reads the same), a
rest-hook `channel.endpoint` and its payload content: `id-only` (what PAS 2.0.1 requires a payer
to support, and its default here) or `full-resource` (PAS 2.2, and what this payer sends when
asked: the notification then carries the ClaimResponse itself). The endpoint must be on the
origin of one of the client's registered FHIR servers (service/auth/clients.py): a payer that
posted PHI to any URL a client named would be an open relay.

Notifications are Bundles of type `history` (backport-subscription-notification-r4): a
subscription-status Parameters first (its events-since-subscription-start and the
notification-event with the ClaimResponse as focus), then the ClaimResponse's entry (with the
resource for full-resource).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from service.errors import Issue, UnprocessableEntity
from service.pas.channel_headers import header_problem
from service.types import JsonObject, Resource

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
SUBSCRIPTION_PROFILE = f"{BACKPORT}/backport-subscription"
FILTER_CRITERIA = f"{BACKPORT}/backport-filter-criteria"
PAYLOAD_CONTENT = f"{BACKPORT}/backport-payload-content"
NOTIFICATION = f"{BACKPORT}/backport-subscription-notification-r4"
STATUS = f"{BACKPORT}/backport-subscription-status-r4"
PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
CONTENTS = ("id-only", "full-resource")
_CRITERIA = "Subscription.criteria"
# The filter's name: `orgIdentifier` as PAS 2.0.1's SubscriptionTopic declares it (canFilterBy
# filterParameter), `org-identifier` as PAS 2.2 and the PAS test kit write it, and the older
# `identifier`.
_FILTER = re.compile(r"^\s*(?:orgIdentifier|org-identifier|identifier)\s*=\s*(\S+)\s*$")


@dataclass(frozen=True)
class SubscriptionRequest:
    endpoint: str
    headers: tuple[str, ...]
    content: str
    organization: str  # the requesting organization's identifier (value, or system|value)


def read_subscription(
    resource: object, allowed_origins: tuple[str, ...] | None
) -> SubscriptionRequest:
    """`allowed_origins`: where the client may be notified; None (development, no client
    authentication): anywhere on http(s)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise UnprocessableEntity("the body must be a Subscription")
    issues: list[Issue] = []
    if resource.get("criteria") != PAS_TOPIC:
        issues.append(Issue(f"criteria must be the PAS topic {PAS_TOPIC}", expression=(_CRITERIA,)))
    organization = _organization(resource, issues)
    channel = _object(resource, "channel", "Subscription.channel", issues)
    endpoint = _endpoint(channel, allowed_origins, issues)
    content = _content(channel, issues)
    headers = _headers(channel, issues)
    if issues:
        raise UnprocessableEntity("the Subscription cannot be accepted", issues=issues)
    assert endpoint is not None and organization is not None
    return SubscriptionRequest(endpoint, headers, content, organization)


def _object(parent: JsonObject, key: str, path: str, issues: list[Issue]) -> JsonObject:
    """`parent[key]` when it is a JSON object; absent is empty; anything else is named."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(Issue(f"{path} must be a JSON object", expression=(path,)))
        return {}
    return value


def _extensions(element: JsonObject, url: str, path: str, issues: list[Issue]) -> list[JsonObject]:
    extensions = element.get("extension") or []
    if not isinstance(extensions, list):
        issues.append(Issue(f"{path} must be a list", expression=(path,)))
        return []
    return [e for e in extensions if isinstance(e, dict) and e.get("url") == url]


def _organization(resource: JsonObject, issues: list[Issue]) -> str | None:
    criteria = _object(resource, "_criteria", _CRITERIA, issues)
    extensions = _extensions(criteria, FILTER_CRITERIA, f"{_CRITERIA}.extension", issues)
    filters = [e.get("valueString") for e in extensions]
    match = _FILTER.match(filters[0]) if len(filters) == 1 and isinstance(filters[0], str) else None
    if match is None:
        issues.append(
            Issue(
                "one filter-criteria is needed: "
                "org-identifier=<the requesting organization's identifier>",
                expression=(f"{_CRITERIA}.extension",),
            )
        )
        return None
    return match.group(1)


def _endpoint(
    channel: JsonObject, allowed_origins: tuple[str, ...] | None, issues: list[Issue]
) -> str | None:
    if channel.get("type") != "rest-hook":
        issues.append(
            Issue("channel.type must be rest-hook", expression=("Subscription.channel.type",))
        )
    endpoint = channel.get("endpoint")
    if isinstance(endpoint, str) and _allowed(endpoint, allowed_origins):
        return endpoint
    issues.append(
        Issue(
            "channel.endpoint must be an https URL (http in development) on the origin of one "
            "of this client's registered FHIR servers",
            expression=("Subscription.channel.endpoint",),
        )
    )
    return None


def _content(channel: JsonObject, issues: list[Issue]) -> str:
    path = "Subscription.channel.payload"
    payload = _object(channel, "_payload", path, issues)
    extensions = _extensions(payload, PAYLOAD_CONTENT, f"{path}.extension", issues)
    content = extensions[0].get("valueCode") if extensions else "id-only"
    if content not in CONTENTS:
        issues.append(
            Issue(f"payload content must be one of {', '.join(CONTENTS)}", expression=(path,))
        )
    if channel.get("payload", "application/fhir+json") != "application/fhir+json":
        issues.append(Issue("channel.payload must be application/fhir+json", expression=(path,)))
    return str(content)


def _headers(channel: JsonObject, issues: list[Issue]) -> tuple[str, ...]:
    path = "Subscription.channel.header"
    headers = channel.get("header") or []
    if not isinstance(headers, list):
        headers = [headers]  # named below as not a list of strings
    problems = [p for p in (header_problem(h) for h in headers) if p is not None]
    issues.extend(Issue(problem, expression=(path,)) for problem in problems)
    return tuple(h for h in headers if isinstance(h, str))


def _allowed(endpoint: str, origins: tuple[str, ...] | None) -> bool:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.username:
        return False
    if origins is None:
        return True
    return f"{parts.scheme}://{parts.netloc}" in origins


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def organization_matches(wanted: str, organization: Resource | None) -> bool:
    """Whether the filter's identifier is the organization's (`value` or `system|value`)."""
    for identifier in (organization or {}).get("identifier") or []:
        value, system = identifier.get("value"), identifier.get("system")
        if wanted in (value, f"{system}|{value}"):
            return True
    return False


def stored_subscription(resource: Resource, subscription_id: str, status: str) -> Resource:
    return {
        **resource,
        "id": subscription_id,
        "meta": {"profile": [SUBSCRIPTION_PROFILE]},
        "status": status,
    }


def status_parameters(
    base_url: str, subscription_id: str, status: str, kind: str, events: int, error: str = ""
) -> list[JsonObject]:
    """The backport-subscription-status-r4 parameters: of a notification, or of `$status`
    (`kind` query-status)."""
    parameters: list[JsonObject] = [
        {
            "name": "subscription",
            "valueReference": {"reference": f"{base_url}/fhir/Subscription/{subscription_id}"},
        },
        {"name": "topic", "valueCanonical": PAS_TOPIC},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events)},
    ]
    if error:
        parameters.append({"name": "error", "valueCodeableConcept": {"text": error}})
    return parameters


def notification(
    base_url: str,
    subscription_id: str,
    kind: str,
    events: int,
    at: datetime,
    focus: Resource | None = None,
    content: str = "id-only",
    *,
    status: str = "active",
    events_since_start: int | None = None,
) -> Resource:
    """A handshake (`kind` handshake, no focus) or an event notification about `focus`, whose
    number is `events`; `events_since_start`, when more events followed it (a backlog sent
    late), is the Subscription's count now."""
    subscription_url = f"{base_url}/fhir/Subscription/{subscription_id}"
    parameters = status_parameters(
        base_url, subscription_id, status, kind, max(events, events_since_start or 0)
    )
    entries: list[JsonObject] = []
    if focus is not None:
        event, entry = _event(base_url, focus, events, at, content)
        parameters.append(event)
        entries.append(entry)
    status_entry: JsonObject = {
        "fullUrl": f"{subscription_url}/$status",
        "resource": {
            "resourceType": "Parameters",
            "meta": {"profile": [STATUS]},
            "parameter": parameters,
        },
        "request": {"method": "GET", "url": f"{subscription_url}/$status"},
        "response": {"status": "200"},
    }
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [NOTIFICATION]},
        "type": "history",
        "timestamp": at.isoformat(timespec="seconds"),
        "entry": [status_entry, *entries],
    }


def _event(
    base_url: str, focus: Resource, events: int, at: datetime, content: str
) -> tuple[JsonObject, JsonObject]:
    """The notification-event parameter about `focus`, and its entry (the resource itself only
    for a full-resource Subscription)."""
    focus_url = f"{base_url}/fhir/ClaimResponse/{focus['id']}"
    event: JsonObject = {
        "name": "notification-event",
        "part": [
            {"name": "event-number", "valueString": str(events)},
            {"name": "timestamp", "valueInstant": at.isoformat(timespec="seconds")},
            {"name": "focus", "valueReference": {"reference": focus_url}},
        ],
    }
    entry: JsonObject = {
        "fullUrl": focus_url,
        "request": {"method": "PUT", "url": f"ClaimResponse/{focus['id']}"},
        "response": {"status": "200"},
    }
    if content == "full-resource":
        entry["resource"] = focus
    return event, entry


def status_bundle(base_url: str, subscriptions: list[tuple[str, str, int, str]]) -> Resource:
    """Subscriptions Backport `$status` (backport-subscription-status, R4): a searchset Bundle of
    one status Parameters per (id, status, events so far, last error) asked about."""
    entries: list[JsonObject] = [
        {
            "fullUrl": f"{base_url}/fhir/Subscription/{subscription_id}/$status",
            "resource": {
                "resourceType": "Parameters",
                "meta": {"profile": [STATUS]},
                "parameter": status_parameters(
                    base_url, subscription_id, status, "query-status", events, error
                ),
            },
            "search": {"mode": "match"},
        }
        for subscription_id, status, events, error in subscriptions
    ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": entries,
    }
