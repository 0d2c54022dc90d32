"""`ValueSet/$expand` (FHIR R4 OperationDefinition ValueSet-expand, a SHALL of DTR 2.0.1's payer
CapabilityStatement) over the ValueSets this service publishes: the expansion each carries
(content.py expands those that enumerate their codes), filtered by text and paged. A ValueSet
that selects codes by filter, or imports other ValueSets, has no expansion here and says why."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.dtr.content import ContentStore
from service.errors import BadRequest, Issue, NotFound, UnprocessableEntity
from service.fhir.parameters import single_value
from service.types import JsonObject, Resource

# The ValueSet-expand parameters we take, with the R4 value type each has in a Parameters body.
# Others (context, date, displayLanguage, includeDesignations, ...) would change what an answer
# means; refused, not ignored.
# `version` is not R4's name for the ValueSet's version, but SDC renderers send it (Smart Forms
# splits an answerValueSet's `url|version` into `url` and `version`): taken as valueSetVersion.
VALUE_KEYS = {
    "url": "valueUri",
    "valueSetVersion": "valueString",
    "version": "valueString",
    "filter": "valueString",
    "count": "valueInteger",
    "offset": "valueInteger",
}
_DIGITS = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class ExpansionRequest:
    url: str | None = None
    version: str | None = None
    filter: str | None = None
    count: int | None = None
    offset: int | None = None


def request_from_query(pairs: Sequence[tuple[str, str]]) -> ExpansionRequest:
    """GET: each parameter at most once, as a query parameter."""
    _refuse_unsupported(name for name, _ in pairs)
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise BadRequest(f"parameter {name} is given more than once")
        values[name] = value
    return _request(values, {k: _integer(k, values.get(k)) for k in ("count", "offset")})


def request_from_parameters(parameters: Sequence[JsonObject]) -> ExpansionRequest:
    """POST: a Parameters body, each value of its R4 type."""
    _refuse_unsupported(str(p["name"]) for p in parameters)
    values = {name: single_value(parameters, (name,), key) for name, key in VALUE_KEYS.items()}
    for name in ("url", "valueSetVersion", "version", "filter"):
        if values[name] is not None and not isinstance(values[name], str):
            raise BadRequest(f"parameter {name} must be a {VALUE_KEYS[name]} string")
    for name in ("count", "offset"):
        value = values[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadRequest(f"parameter {name} must be a valueInteger")
    return _request(values, {k: values[k] for k in ("count", "offset")})


def _refuse_unsupported(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(VALUE_KEYS))
    if unknown:
        message = (
            f"$expand parameters not supported here: {', '.join(unknown)} "
            f"(supported: {', '.join(VALUE_KEYS)})"
        )
        raise BadRequest(message, issues=[Issue(message, code="not-supported")])


def _integer(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not _DIGITS.match(text):
        raise BadRequest(f"parameter {name} must be a non-negative integer")
    return int(text)


def _request(values: Mapping[str, Any], integers: Mapping[str, int | None]) -> ExpansionRequest:
    for name, number in integers.items():
        if number is not None and number < 0:
            raise BadRequest(f"parameter {name} must be a non-negative integer")
    url, version = values.get("url"), values.get("valueSetVersion")
    alias = values.get("version")
    if alias is not None and version is not None and alias != version:
        raise BadRequest(f"version {alias} and valueSetVersion {version} disagree")
    version = version if version is not None else alias
    if url is not None and "|" in url:
        url, _, in_url = url.partition("|")
        if version is not None and version != in_url:
            raise BadRequest(f"url names version {in_url}, valueSetVersion {version}")
        version = in_url
    return ExpansionRequest(
        url, version, values.get("filter"), integers.get("count"), integers.get("offset")
    )


def value_set_to_expand(
    content: ContentStore, request: ExpansionRequest, value_set_id: str | None
) -> Resource:
    """The ValueSet in the path (instance level) or the one `url` names (type level)."""
    if value_set_id is not None:
        found = content.read("ValueSet", value_set_id)
        if found is None:
            raise NotFound(f"ValueSet/{value_set_id} is not known here")
        if request.url is not None and not _is_named(found, request):
            raise BadRequest(f"url {request.url} is not the url of ValueSet/{value_set_id}")
        return found
    if not request.url:
        raise BadRequest("give url, the ValueSet's canonical, or call ValueSet/{id}/$expand")
    canonical = request.url if request.version is None else f"{request.url}|{request.version}"
    found = content.by_url("ValueSet", canonical)
    if found is None:
        raise NotFound(f"no ValueSet {canonical} is published here")
    return found


def _is_named(value_set: Resource, request: ExpansionRequest) -> bool:
    same_version = request.version is None or value_set.get("version") == request.version
    return value_set.get("url") == request.url and same_version


def expanded(value_set: Resource, request: ExpansionRequest, now: datetime) -> Resource:
    """The ValueSet with an expansion as of `now`: `total` counts every code that passes the
    filter, `contains` is the page `offset` and `count` select (R4 ValueSet.expansion)."""
    stored = value_set.get("expansion")
    if not isinstance(stored, dict):
        reason = _why_not_expanded(value_set)
        # not-supported rather than too-costly: we cannot enumerate these codes at any cost.
        raise UnprocessableEntity(reason, issues=[Issue(reason, code="not-supported")])
    matches = [c for c in _concepts(stored.get("contains", [])) if _matches(c, request.filter)]
    start = request.offset or 0
    page = matches[start:] if request.count is None else matches[start : start + request.count]
    expansion: JsonObject = {
        "timestamp": now.isoformat(timespec="seconds"),
        "total": len(matches),
        "offset": start,
    }
    used = _parameters_used(request)
    if used:
        expansion["parameter"] = used
    if page:  # FHIR JSON has no empty arrays
        expansion["contains"] = page
    return {**value_set, "expansion": expansion}


def _concepts(contains: Iterable[JsonObject]) -> Iterator[JsonObject]:
    """Codes of a (possibly nested) expansion, flat, without empty members."""
    for entry in contains:
        if entry.get("code"):
            yield {k: v for k, v in entry.items() if k != "contains" and v is not None}
        yield from _concepts(entry.get("contains", []))


def _matches(concept: JsonObject, text: str | None) -> bool:
    if not text:
        return True
    wanted = text.casefold()
    return (
        wanted in str(concept["code"]).casefold()
        or wanted in str(concept.get("display", "")).casefold()
    )


def _parameters_used(request: ExpansionRequest) -> list[JsonObject]:
    found: list[JsonObject] = []
    if request.filter:
        found.append({"name": "filter", "valueString": request.filter})
    for name, number in (("count", request.count), ("offset", request.offset)):
        if number is not None:
            found.append({"name": name, "valueInteger": number})
    return found


def _why_not_expanded(value_set: Resource) -> str:
    name = f"ValueSet {value_set.get('url')}|{value_set.get('version')}"
    includes = (value_set.get("compose") or {}).get("include", [])
    filters = [
        f"{i.get('system')} {f.get('property')} {f.get('op')} {f.get('value')}"
        for i in includes
        for f in i.get("filter", [])
    ]
    if filters:
        shown = "; ".join(filters[:3]) + ("; ..." if len(filters) > 3 else "")
        return (
            f"{name} selects its codes by filter ({shown}): this server holds none of that code "
            "system's content, so it cannot list them"
        )
    imports = [v for i in includes for v in i.get("valueSet", [])]
    if imports:
        return f"{name} includes other ValueSets ({', '.join(imports)}), not composed here"
    return f"{name} has no expansion here"
