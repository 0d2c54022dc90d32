"""Loading a policy folder (`policy.json` + `terminology/`) into an immutable `Policy`.

Every policy under `settings.policy_dir` is loaded at start-up; a malformed folder stops the
service with the file named, never a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from service.errors import ConfigurationError
from service.terminology.codes import CodeKey, normalize_code
from service.terminology.valuesets import ValueSetIndex, load_value_sets
from service.types import JsonObject


@dataclass(frozen=True)
class TriggerRule:
    resource_type: str
    statuses: frozenset[str]
    value_set: str | None
    codes: frozenset[CodeKey]


@dataclass(frozen=True)
class PriorAuthorization:
    pa_needed: str
    doc_needed: str
    doc_purpose: str
    reason: str
    submission: str


@dataclass(frozen=True)
class OffPolicy:
    """When `criterion` is not met the order is outside the listed indications."""

    criterion: str
    reason: str


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    version: str
    folder: Path
    canonical_base: str
    library: str
    questionnaire: str
    billing_code: JsonObject
    triggers: dict[str, TriggerRule]
    observation_codes: tuple[CodeKey, ...]
    prior_authorization: PriorAuthorization
    terminology: ValueSetIndex
    evaluation: JsonObject
    off_policy: OffPolicy | None
    # The canonical base the folder's content is written against; `canonical_base` is where the
    # service publishes it (service/policy/canonical.py), the same until published there.
    authored_base: str = ""

    def __post_init__(self) -> None:
        if not self.authored_base:
            object.__setattr__(self, "authored_base", self.canonical_base)

    def criterion_label(self, criterion: str) -> str:
        """The words cards and the form use for a criterion (policy.json evaluation)."""
        labels = self.evaluation.get("criterionLabels") or {}
        return str(labels.get(criterion, criterion))

    def discrepancy_note(self, criterion: str) -> str:
        """What a reviewer is told when the record disagrees with itself on a criterion."""
        notes = self.evaluation.get("discrepancyNotes") or {}
        found = notes.get(criterion)
        return str(found) if found else "the record's values for it disagree; check them"


def load_policy(folder: Path) -> Policy:
    path = folder / "policy.json"
    try:
        data = json.loads(path.read_text())
        return Policy(
            id=data["id"],
            title=data["title"],
            version=data["version"],
            folder=folder,
            canonical_base=data["canonicalBase"],
            library=data["library"],
            questionnaire=data["questionnaire"],
            billing_code=data["billingCode"],
            triggers={kind: _trigger(kind, rule) for kind, rule in data["trigger"].items()},
            observation_codes=tuple(
                normalize_code(item["system"], item["code"])
                for item in data.get("prefetchObservationCodes", [])
            ),
            prior_authorization=_prior_authorization(data["priorAuthorization"]),
            terminology=load_value_sets(folder / "terminology"),
            evaluation=data.get("evaluation", {}),
            off_policy=OffPolicy(**data["offPolicy"]) if "offPolicy" in data else None,
        )
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ConfigurationError(f"{path}: cannot load policy: {error!r}") from None


def _trigger(resource_type: str, rule: JsonObject) -> TriggerRule:
    return TriggerRule(
        resource_type=resource_type,
        statuses=frozenset(rule["statuses"]),
        value_set=rule.get("valueSet"),
        codes=frozenset(normalize_code(c["system"], c["code"]) for c in rule.get("codes", [])),
    )


def _prior_authorization(rule: JsonObject) -> PriorAuthorization:
    return PriorAuthorization(
        pa_needed=rule["paNeeded"],
        doc_needed=rule["docNeeded"],
        doc_purpose=rule["docPurpose"],
        reason=rule["reason"],
        submission=rule["submission"],
    )


def load_policies(policy_dir: Path) -> tuple[Policy, ...]:
    folders = sorted(path.parent for path in policy_dir.glob("*/policy.json"))
    if not folders:
        raise ConfigurationError(f"no policy folder (*/policy.json) under {policy_dir}")
    policies = tuple(load_policy(folder) for folder in folders)
    for policy in policies:
        for rule in policy.triggers.values():
            if rule.value_set and policy.terminology.value_set(rule.value_set) is None:
                raise ConfigurationError(f"{policy.id}: trigger ValueSet {rule.value_set} missing")
    return policies
