"""What a CRD 2.2 client does with a prefetch template (CDS Hooks "prefetch tokens containing
simpler FHIRPath"), for tests: each token is a FHIRPath expression over `context` whose
`resolve()` turns a reference into the resource it names; we need only its `id`, so a reference
`Type/id` stands for the resource. Several values are joined by commas; a token with no value
leaves the key unfilled (None), and the client does not send it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

_TOKEN = re.compile(r"\{\{([^}]*)\}\}")
# <path>.resolve().id or <path>.resolve().ofType(Type).id
_RESOLVED_ID = re.compile(
    r"^(context\.[A-Za-z().]+?)\.resolve\(\)(?:\.ofType\(([A-Za-z]+)\))?\.id$"
)
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def is_simple_fhirpath(token: str) -> bool:
    return _RESOLVED_ID.match(token) is not None


def fill(template: str, context: Mapping[str, Any]) -> str | None:
    unfilled = False

    def value(match: re.Match[str]) -> str:
        nonlocal unfilled
        found = _values(match.group(1).strip(), context)
        unfilled = unfilled or not found
        return ",".join(found)

    rendered = _TOKEN.sub(value, template)
    return None if unfilled else rendered


def _values(token: str, context: Mapping[str, Any]) -> list[str]:
    if re.fullmatch(r"context\.[A-Za-z]+", token):
        field = context.get(token.removeprefix("context."))
        return [str(field)] if isinstance(field, (str, int)) else []
    match = _RESOLVED_ID.match(token)
    assert match, f"not a token this test client knows: {token}"
    path, kind = match.groups()
    ids = []
    for item in evaluate({"context": dict(context)}, path, {}, models["r4"]):
        reference = item.get("reference") if isinstance(item, dict) else item
        named = _REFERENCE.match(reference) if isinstance(reference, str) else None
        if named and (kind is None or named.group(1) == kind):
            ids.append(named.group(2))
    return list(dict.fromkeys(ids))
