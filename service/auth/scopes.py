"""SMART App Launch 2 scopes ("Scopes for requesting FHIR resources"): `system/`, `user/` or
`patient/`, a resource type or `*`, and permissions, in the v2 form (`.cruds`, any subset in
that order) or the v1 form (`.read`, `.write`, `.*`). Search parameters after `?` narrow a v2
scope further; this service grants none of those and refuses them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SCOPE = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]*|\*)\.(c?r?u?d?s?|read|write|\*)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    context: str
    resource: str
    permissions: frozenset[str]
    text: str

    def covers(self, other: Scope) -> bool:
        return (
            self.context == other.context
            and self.resource in ("*", other.resource)
            and other.permissions <= self.permissions
        )


def parse_scope(text: str) -> Scope | None:
    match = _SCOPE.match(text)
    if match is None or not match.group(3):
        return None
    context, resource, permissions = match.groups()
    return Scope(context, resource, frozenset(_V1.get(permissions, permissions)), text)


def parse_scopes(text: str) -> list[Scope]:
    """The SMART resource scopes of a space-separated scope string; other scopes are left out."""
    return [scope for word in text.split() if (scope := parse_scope(word)) is not None]


def grants(scopes: Iterable[Scope], context: str, resource: str, permission: str) -> bool:
    wanted = Scope(context, resource, frozenset(permission), "")
    return any(scope.covers(wanted) for scope in scopes)


def granted(requested: Iterable[Scope], allowed: Iterable[Scope]) -> list[Scope]:
    """Each requested scope that an allowed one covers, as requested (RFC 6749 section 3.3: the
    server may grant less than asked, and says what it granted)."""
    allowed = list(allowed)
    return [scope for scope in requested if any(a.covers(scope) for a in allowed)]
