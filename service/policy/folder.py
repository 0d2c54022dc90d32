"""Loading a policy folder into an immutable `Policy`: `policy.json` (the contract,
`service/policy/contract.py`), `terminology/` (its ValueSets and CodeSystems), `cql/` (its CQL
library and the ELM translated from it, `cql/elm/`) and its Questionnaires.

Every policy under `settings.policy_dir` is loaded at start-up; a malformed folder stops the
service with the file and the key named, never a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from service.errors import ConfigurationError
from service.policy.contract import EvaluationContract, LimitKind, PolicyFile, TriggerSpec, Words
from service.terminology.codes import CodeKey, normalize_code
from service.terminology.displays import load_displays
from service.terminology.valuesets import ValueSetIndex, load_value_sets
from service.types import JsonObject, Resource


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
    summary: str
    recorded: str


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
    evaluation: EvaluationContract
    off_policy: OffPolicy | None
    words: Words
    # (system, code) -> the display the policy's terminology gives it.
    displays: dict[tuple[str, str], str]
    # The items of the policy's Questionnaire (`questionnaire`), as the folder has them.
    questionnaire_items: tuple[Resource, ...]
    # The canonical base the folder's content is written against; `canonical_base` is where the
    # service publishes it (service/policy/canonical.py), the same until published there.
    authored_base: str = ""

    def __post_init__(self) -> None:
        if not self.authored_base:
            object.__setattr__(self, "authored_base", self.canonical_base)

    @property
    def cql_dir(self) -> Path:
        """The policy's own CQL library and, in `elm/`, what it translates to."""
        return self.folder / "cql"

    def criterion_label(self, criterion: str) -> str:
        """The words cards and the form use for a criterion (policy.json evaluation)."""
        found = self.evaluation.criterion(criterion)
        return found.label if found is not None else criterion

    def discrepancy_note(self, criterion: str) -> str:
        """What a reviewer is told when the record disagrees with itself on a criterion."""
        found = self.evaluation.criterion(criterion)
        if found is None or found.discrepancy is None:
            return "the record's values for it disagree; check them"
        return found.discrepancy.note


def load_policy(folder: Path) -> Policy:
    path = folder / "policy.json"
    try:
        data = PolicyFile.model_validate(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot load policy: {error!r}") from None
    except ValidationError as error:
        raise ConfigurationError(f"{path}: {_problems(error)}") from None
    return Policy(
        id=data.id,
        title=data.title,
        version=data.version,
        folder=folder,
        canonical_base=data.canonical_base,
        library=data.library,
        questionnaire=data.questionnaire,
        billing_code=data.billing_code.as_json(),
        triggers={kind: _trigger(kind, rule) for kind, rule in data.trigger.items()},
        observation_codes=tuple(
            normalize_code(item.system, item.code) for item in data.prefetch_observation_codes
        ),
        prior_authorization=_prior_authorization(data),
        terminology=load_value_sets(folder / "terminology"),
        evaluation=data.evaluation,
        off_policy=_off_policy(data),
        words=data.words,
        displays=load_displays(folder / "terminology"),
        questionnaire_items=_questionnaire_items(folder, data.questionnaire),
    )


def _prior_authorization(data: PolicyFile) -> PriorAuthorization:
    given = data.prior_authorization
    return PriorAuthorization(
        pa_needed=given.pa_needed,
        doc_needed=given.doc_needed,
        doc_purpose=given.doc_purpose,
        reason=given.reason,
        submission=given.submission,
    )


def _off_policy(data: PolicyFile) -> OffPolicy | None:
    given = data.off_policy
    if given is None:
        return None
    return OffPolicy(given.criterion, given.reason, given.summary, given.recorded)


def _questionnaire_items(folder: Path, url: str) -> tuple[Resource, ...]:
    for path in sorted(folder.glob("Questionnaire-*.json")):
        try:
            questionnaire = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigurationError(f"{path}: cannot load: {error!r}") from None
        if questionnaire.get("url") == url:
            return tuple(questionnaire.get("item") or [])
    raise ConfigurationError(f"{folder}: no Questionnaire-*.json has the url {url}")


def _problems(error: ValidationError) -> str:
    """Each problem as `key.path: what is wrong`, the keys as policy.json spells them."""
    return "; ".join(
        f"{_key_path(problem['loc']) or '(top level)'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    )


def _key_path(loc: tuple[int | str, ...]) -> str:
    """pydantic puts a union member's tag after a list index (`limits.0.quantity.define`); the
    file has no such key."""
    kinds = {kind.value for kind in LimitKind}
    kept = [
        str(part)
        for index, part in enumerate(loc)
        if not (part in kinds and index and isinstance(loc[index - 1], int))
    ]
    return ".".join(kept)


def _trigger(resource_type: str, rule: TriggerSpec) -> TriggerRule:
    return TriggerRule(
        resource_type=resource_type,
        statuses=frozenset(rule.statuses),
        value_set=rule.value_set,
        codes=frozenset(normalize_code(c.system, c.code) for c in rule.codes),
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
