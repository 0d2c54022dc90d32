"""The policy contract: `policy.json` as a typed model, validated completely when the policy
loads. Every key is declared here (an unknown or misspelt one is an error, as is a missing one),
every cross-reference is checked (a limit's criterion, the criteria that explain it, its unit),
and `service/policy/engine.py` then checks every define it names against the ELM (present, of
the type it is read as). A broken contract stops start-up naming the file and the key.

What the engine knows of a policy is only what this contract declares: its criteria and the
words for them, its indication paths, its outcome, its limits (each a quantity, a count or a
period, tied to the criterion it belongs to), the questionnaire answers it takes and the
pre-fill it gives. Cards, coverage information, `$evaluate` and the SMART app are driven by it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from service.types import JsonObject


class _Strict(BaseModel):
    """policy.json's own spelling (camelCase), every key declared, nothing silently ignored."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, frozen=True, validate_by_name=False
    )


class Shown(_Strict):
    """How a criterion's value reads beside a limit's arithmetic: "weight 44.9 kg"."""

    name: str
    unit: str


class Discrepancy(_Strict):
    """A Boolean define that is true when the record disagrees with itself on the criterion, and
    what a reviewer is told to check."""

    define: str
    note: str


class ValueKind(StrEnum):
    BOOLEAN = "boolean"
    CODING = "coding"
    QUANTITY = "quantity"
    INTEGER = "integer"
    DATE = "date"
    STRING = "string"


class ValueType(_Strict):
    """What a criterion's value is, so that it is sent typed and shown in the policy's words: a
    code of `system` (its display from the policy's CodeSystems and ValueSets), an amount in
    `unit` (UCUM, declared in `units`) shown to `decimals` places, a yes/no, a count, a date.
    `saysNothing`: codes that, while the criterion is not known yet, add nothing to saying so."""

    kind: ValueKind
    system: str | None = None
    unit: str | None = None
    decimals: int = Field(default=2, ge=0, le=6)
    says_nothing: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> ValueType:
        if self.kind is ValueKind.CODING and self.system is None:
            raise ValueError("a coding value needs its system")
        if self.kind is ValueKind.QUANTITY and self.unit is None:
            raise ValueError("a quantity value needs its unit")
        return self


class Criterion(_Strict):
    id: str = Field(min_length=1)
    label: str
    value: ValueType = ValueType(kind=ValueKind.STRING)
    shown: Shown | None = None
    discrepancy: Discrepancy | None = None


class OrderText(_Strict):
    """How an order's free-text dosage writes an amount in this unit ("28 ug/d", "700 mg"): the
    words for the amount and, for a rate, for its time (empty for a plain amount)."""

    amounts: list[str] = Field(min_length=1)
    per: list[str] = []


class Unit(_Strict):
    display: str
    order_text: OrderText | None = None


class LimitKind(StrEnum):
    QUANTITY = "quantity"
    COUNT = "count"
    PERIOD = "period"


class _Limit(_Strict):
    id: str = Field(min_length=1)
    criterion: str
    label: str


class QuantityLimit(_Limit):
    """At most `define` (a Decimal in `unit`, UCUM) of what `ordered` (a Decimal, same unit)
    reads from the order or the answers; `basis` (a String) says how the limit was set.
    `dosage`: which of the order's dosageInstructions a suggestion that sets the ordered amount
    to the limit rewrites (none: the order has no dosage to rewrite)."""

    kind: Literal[LimitKind.QUANTITY]
    define: str
    unit: str
    ordered: str | None = None
    basis: str | None = None
    explained_by: list[str] = []
    dosage: Literal["first", "last"] | None = None
    crd_detail: Literal["allowed-quantity"] | None = None


class CountLimit(_Limit):
    """At most `define` (an Integer) of something counted (cycles, fills, visits)."""

    kind: Literal[LimitKind.COUNT]
    define: str
    crd_detail: None = None


class PeriodLimit(_Limit):
    """Covered for `years` (an Integer define) from `start` (a Date define)."""

    kind: Literal[LimitKind.PERIOD]
    start: str
    years: str
    crd_detail: Literal["allowed-period"] | None = None


Limit = Annotated[QuantityLimit | CountLimit | PeriodLimit, Field(discriminator="kind")]


class StatusWords(_Strict):
    """A criterion's status in the policy's words, for people."""

    met: str
    not_met: str = Field(alias="not-met")
    unknown: str


class Words(_Strict):
    """The words people read about this policy: the drug's name in card summaries, a criterion's
    status, and what a value the record only suggests is called."""

    drug: str
    status: StatusWords
    suggested: str
    # An indication path's name, by its id in `evaluation.paths` (else its id is shown).
    paths: dict[str, str] = {}
    yes: str = "Yes"
    no: str = "No"


class EvaluationContract(_Strict):
    """Which defines of the policy's library mean what."""

    order_parameter: str
    date_parameter: str
    criteria: list[Criterion] = Field(min_length=1)
    paths: dict[str, str] = Field(min_length=1)
    outcome: str
    units: dict[str, Unit] = {}
    limits: list[Limit] = []
    answers: dict[str, str]
    prefill: dict[str, str] = {}

    @model_validator(mode="after")
    def _references_resolve(self) -> EvaluationContract:
        ids = [c.id for c in self.criteria]
        _unique("criteria", ids)
        _unique("limits", [limit.id for limit in self.limits])
        known = set(ids)
        for index, limit in enumerate(self.limits):
            where = f"limits.{index} ({limit.id})"
            if limit.criterion not in known:
                raise ValueError(f"{where}: criterion {limit.criterion!r} is not a criterion")
            if isinstance(limit, QuantityLimit):
                unknown = sorted(set(limit.explained_by) - known)
                if unknown:
                    raise ValueError(f"{where}: explainedBy names unknown criteria {unknown}")
                if limit.unit not in self.units:
                    raise ValueError(f"{where}: unit {limit.unit!r} is not declared in units")
        for criterion in self.criteria:
            unit = criterion.value.unit
            if unit is not None and unit not in self.units:
                raise ValueError(f"criteria ({criterion.id}): unit {unit!r} is not in units")
        _unique("limits' crdDetail", [x.crd_detail for x in self.limits if x.crd_detail])
        return self

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


class Coding(_Strict):
    system: str
    code: str


class TriggerSpec(_Strict):
    statuses: list[str] = Field(min_length=1)
    value_set: str | None = None
    codes: list[Coding] = []

    @model_validator(mode="after")
    def _something_to_match(self) -> TriggerSpec:
        if self.value_set is None and not self.codes:
            raise ValueError("a trigger needs a valueSet or codes")
        return self


class ObservationCode(_Strict):
    system: str
    code: str
    why: str


class PriorAuthorizationSpec(_Strict):
    pa_needed: str
    doc_needed: str
    doc_purpose: str
    reason: str
    policy_link: str
    submission: str


class OffPolicySpec(_Strict):
    """When `criterion` is not met the order is outside the listed indications. `summary`: the
    card's summary; `recorded`: the words before the value the record gives the criterion."""

    criterion: str
    reason: str
    summary: str
    recorded: str


class BillingCode(_Strict):
    system: str
    code: str
    display: str

    def as_json(self) -> JsonObject:
        return self.model_dump()


class PolicyFile(_Strict):
    id: str = Field(min_length=1)
    title: str
    version: str
    last_reviewed: str
    canonical_base: str
    library: str
    questionnaire: str
    billing_code: BillingCode
    trigger: dict[str, TriggerSpec] = Field(min_length=1)
    prefetch_observation_codes: list[ObservationCode] = []
    prior_authorization: PriorAuthorizationSpec
    notes: list[str] = []
    words: Words
    evaluation: EvaluationContract
    off_policy: OffPolicySpec | None = None

    @model_validator(mode="after")
    def _off_policy_criterion(self) -> PolicyFile:
        rule = self.off_policy
        if rule is not None and self.evaluation.criterion(rule.criterion) is None:
            raise ValueError(f"offPolicy.criterion {rule.criterion!r} is not a criterion")
        return self


def _unique(what: str, values: list[str]) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what}: {repeated} given more than once")
