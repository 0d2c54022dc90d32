"""The loaded policies and their compiled engines, found by what CRD and DTR know of them: their
id (a stored assertion), their questionnaire (a response or a package request), or an order (the
policy whose trigger the order meets). One registry serves both, so no route picks "the first
policy"."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from service.cql.engine import CqlEngine
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.folder import Policy
from service.policy.trigger import is_in_scope
from service.types import Resource


def compile_policies(policies: Sequence[Policy], shared_cql_dir: Path) -> dict[str, PolicyEngine]:
    """One CQL engine over the shared libraries and every policy's own; one policy engine each
    (policy id -> engine). A contract that names a missing or mistyped define stops here."""
    cql = CqlEngine([shared_cql_dir, *(p.cql_dir for p in policies)])
    return {policy.id: PolicyEngine(policy, cql) for policy in policies}


class PolicyRegistry:
    def __init__(self, policies: Sequence[Policy], engines: Mapping[str, PolicyEngine]) -> None:
        self._policies = tuple(policies)
        self.engines = dict(engines)
        self._by_id = {p.id: p for p in self._policies}
        self._by_questionnaire = {p.questionnaire: p for p in self._policies}

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._policies)

    def by_id(self, policy_id: str) -> Policy | None:
        return self._by_id.get(policy_id)

    def order_types(self) -> tuple[str, ...]:
        """Every order type some policy's trigger names (MedicationRequest, ServiceRequest ...)."""
        return tuple(sorted({kind for p in self._policies for kind in p.triggers}))

    def engine(self, policy: Policy) -> PolicyEngine:
        return self.engines[policy.id]

    def by_questionnaire(self, canonical: str) -> Policy | None:
        """`canonical` with or without `|version`."""
        return self._by_questionnaire.get(canonical.partition("|")[0])

    def for_order(self, order: Resource, record: PatientRecord) -> Policy | None:
        """The policy whose trigger the order meets; None when no policy is about it."""
        return next((p for p in self._policies if is_in_scope(order, p, record)), None)
