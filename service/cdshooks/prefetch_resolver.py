"""Prefetch resolution (CDS Hooks 2.0 "Providing FHIR Resources to a CDS Service").

Each template key is taken as the client sent it: a resource, a Bundle (searchset or collection),
`null` (the client has no data: an empty result), or an OperationOutcome (the client failed to
get it: we try ourselves). Keys we did not ask for are ignored. What is missing is fetched from
`fhirServer` with the client's token, all requests in parallel under one time budget, and only
from allowlisted servers: a server off the list is never contacted. Nothing here raises for a
fetch problem; each key's fate is reported, and the caller decides (412, or `technical`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple
from urllib.parse import quote

from service.errors import BadRequest, FetchError, FetchNotFound
from service.fhir.ehr_client import FhirClient
from service.fhir.ids import is_fhir_id, is_relative_reference
from service.types import JsonObject, Resource

MAX_PAGES = 20
_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class KeyStatus(Enum):
    PROVIDED = "provided"
    EMPTY = "empty"  # sent as null, or fetched and not there
    FETCHED = "fetched"
    UNAVAILABLE = "unavailable"  # neither sent nor fetchable: no server, not allowed, no token
    FAILED = "failed"  # we tried and the server failed or the budget ran out


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    required: bool
    # False: read when the client sends it, never fetched by this template (its tokens are
    # simple FHIRPath, which only the client fills in; the service reads the references itself).
    fetched: bool = True


class ResolvedResource(NamedTuple):
    """One resource of the prefetch (a tuple: one is made per resource on every call)."""

    resource: Resource
    full_url: str | None
    source: str


@dataclass(frozen=True)
class ResolvedPrefetch:
    resources: tuple[ResolvedResource, ...]
    statuses: Mapping[str, KeyStatus]
    required: frozenset[str]

    def missing_required(self) -> list[str]:
        return [k for k in sorted(self.required) if self.statuses[k] is KeyStatus.UNAVAILABLE]

    def technical_failures(self) -> list[str]:
        return [k for k, status in self.statuses.items() if status is KeyStatus.FAILED]


@dataclass(frozen=True)
class _Fetch:
    key: str
    relative: str | None  # None: the template could not be filled in


def render_template(template: str, context: Mapping[str, object]) -> str | None:
    """Fill in CDS Hooks 2.0 prefetch tokens; None when a token has no usable value."""
    values: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = _token_value(match.group(1), context)
        if value is None or not is_fhir_id(value):
            values.append("")
            return ""
        values.append(value)
        return quote(value, safe="-.")

    rendered = _TOKEN.sub(substitute, template)
    return None if any(value == "" for value in values) else rendered


def _token_value(token: str, context: Mapping[str, object]) -> str | None:
    if token in _USER_TOKENS:
        user = context.get("userId")
        prefix = f"{_USER_TOKENS[token]}/"
        if isinstance(user, str) and user.startswith(prefix):
            return user[len(prefix) :]
        return None
    if not token.startswith("context.") or token.count(".") != 1:
        return None
    value = context.get(token.removeprefix("context."))
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


async def resolve_prefetch(
    request_prefetch: Mapping[str, object] | None,
    templates: Mapping[str, PrefetchTemplate],
    context: Mapping[str, object],
    fhir_server: str | None,
    token: str | None,
    client: FhirClient,
    budget_s: float,
    extra_references: Sequence[str] = (),
) -> ResolvedPrefetch:
    given = request_prefetch or {}
    resources: list[ResolvedResource] = []
    statuses: dict[str, KeyStatus] = {}
    wanted: list[_Fetch] = []
    for key, template in templates.items():
        status = _take_given(key, given, resources) if key in given else None
        if status is not None:
            statuses[key] = status
        elif template.fetched:
            wanted.append(_Fetch(key, render_template(template.query, context)))
    wanted += _missing_references(extra_references, resources)
    can_fetch = fhir_server is not None and client.allows(fhir_server)
    if wanted and can_fetch:
        assert fhir_server is not None
        fetched = await _fetch_all(wanted, fhir_server, token, client, budget_s)
        for fetch in wanted:
            statuses[fetch.key], found = fetched[fetch.key]
            resources += found
    else:
        statuses.update({fetch.key: KeyStatus.UNAVAILABLE for fetch in wanted})
    required = frozenset(key for key, template in templates.items() if template.required)
    return ResolvedPrefetch(tuple(resources), statuses, required)


def _take_given(
    key: str, given: Mapping[str, object], out: list[ResolvedResource]
) -> KeyStatus | None:
    value = given[key]
    if value is None:
        return KeyStatus.EMPTY
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise BadRequest(f"prefetch '{key}' is neither a FHIR resource, a Bundle nor null")
    if value["resourceType"] == "OperationOutcome":
        return None  # the client could not get it; we may
    out.extend(_flatten(value, key))
    return KeyStatus.PROVIDED


def _flatten(value: JsonObject, source: str) -> list[ResolvedResource]:
    if value["resourceType"] != "Bundle":
        return [ResolvedResource(value, None, source)]
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest(f"prefetch '{source}': Bundle.entry must be an array")
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest(f"prefetch '{source}': a Bundle entry has no resource")
        if resource["resourceType"] == "OperationOutcome":
            continue  # search.mode = outcome: warnings from the client's server
        full_url = entry.get("fullUrl")
        found.append(
            ResolvedResource(resource, full_url if isinstance(full_url, str) else None, source)
        )
    return found


def _missing_references(references: Sequence[str], present: list[ResolvedResource]) -> list[_Fetch]:
    # Only the resources of the types referenced are looked at (a few orders among hundreds).
    types = {reference.partition("/")[0] for reference in references}
    have = {
        f"{kind}/{r.resource.get('id')}"
        for r in present
        if (kind := r.resource["resourceType"]) in types
    }
    wanted = []
    for reference in dict.fromkeys(references):
        if reference in have:
            continue
        wanted.append(_Fetch(reference, reference if is_relative_reference(reference) else None))
    return wanted


async def _fetch_all(
    wanted: list[_Fetch], server: str, token: str | None, client: FhirClient, budget_s: float
) -> dict[str, tuple[KeyStatus, list[ResolvedResource]]]:
    results: dict[str, tuple[KeyStatus, list[ResolvedResource]]] = {}
    tasks = {}
    for fetch in wanted:
        if fetch.relative is None:
            results[fetch.key] = (KeyStatus.UNAVAILABLE, [])
        else:
            coroutine = _fetch_one(fetch, server, token, client, budget_s)
            tasks[fetch.key] = asyncio.ensure_future(coroutine)
    if tasks:
        done, pending = await asyncio.wait(tasks.values(), timeout=budget_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for key, task in tasks.items():
            finished = task in done and task.exception() is None
            results[key] = task.result() if finished else (KeyStatus.FAILED, [])
    return results


async def _fetch_one(
    fetch: _Fetch, server: str, token: str | None, client: FhirClient, budget_s: float
) -> tuple[KeyStatus, list[ResolvedResource]]:
    assert fetch.relative is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    try:
        body = await client.get_json(server, fetch.relative, token, budget_s)
        if "?" in fetch.relative and body["resourceType"] not in ("Bundle", "OperationOutcome"):
            # FHIR search answers a searchset Bundle; anything else is not the data asked for.
            raise FetchError(f"a search answered a {body['resourceType']}, not a Bundle")
        found = _flatten(body, fetch.key) if body["resourceType"] != "OperationOutcome" else []
        for _ in range(MAX_PAGES - 1):
            following = _next_page(body, server)
            if following is None:
                break
            body = await client.get_json(
                server, following, token, max(deadline - loop.time(), 0.001)
            )
            found += _flatten(body, fetch.key)
    except FetchNotFound:
        return KeyStatus.EMPTY, []
    except (FetchError, BadRequest):
        return KeyStatus.FAILED, []
    return KeyStatus.FETCHED, found


def _next_page(bundle: JsonObject, server: str) -> str | None:
    if bundle.get("resourceType") != "Bundle":
        return None
    for link in bundle.get("link") or []:
        url = link.get("url") if isinstance(link, dict) else None
        if link.get("relation") == "next" and isinstance(url, str):
            base = server.rstrip("/") + "/"
            # Only pages on the same server; anything else is not followed.
            return url[len(base) :] if url.startswith(base) else None
    return None
