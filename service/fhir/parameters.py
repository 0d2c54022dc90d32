"""FHIR R4 `Parameters` request bodies of operations (R4 "Operations", request): the body parsed
into its `parameter` entries, and one parameter picked out by name with the value type its
OperationDefinition gives it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NoReturn

import orjson

from service.errors import BadRequest, Issue
from service.types import JsonObject


def parameters_of(body: bytes) -> list[JsonObject]:
    found: list[JsonObject] = parameters_resource(body).get("parameter") or []
    return found


def parameters_resource(body: bytes) -> JsonObject:
    """The whole Parameters resource (its `meta` says which profile a client speaks), checked."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None
    if not isinstance(parsed, dict) or parsed.get("resourceType") != "Parameters":
        raise BadRequest("the body must be a FHIR Parameters resource")
    found = parsed.get("parameter") or []
    if not isinstance(found, list) or not all(isinstance(p, dict) for p in found):
        raise BadRequest("Parameters.parameter must be an array of objects")
    if not all(isinstance(p.get("name"), str) for p in found):
        raise BadRequest("every Parameters.parameter needs a name (R4: name 1..1)")
    resource: JsonObject = parsed
    return resource


def named(parameters: Sequence[JsonObject], names: Collection[str]) -> list[JsonObject]:
    return [p for p in parameters if p.get("name") in names]


def single_value(parameters: Sequence[JsonObject], names: Collection[str], key: str) -> Any:
    """The `key` (`valueString`, `resource`, ...) of the one parameter called any of `names`;
    None when there is none. Given twice, or with another value type: a 400."""
    found = named(parameters, names)
    label = "/".join(names)
    if len(found) > 1:
        _refuse(f"parameter {label} is given more than once", label)
    if not found:
        return None
    value = found[0].get(key)
    if value is None:
        _refuse(f"parameter {label} must carry {key}", label, key)
    return value


def _refuse(message: str, label: str, key: str | None = None) -> NoReturn:
    where = f"Parameters.parameter.where(name='{label}')" + (f".{key}" if key else "")
    raise BadRequest(message, issues=[Issue(message, expression=(where,))])
