"""Evaluates one order against a policy: the policy's CQL over the PatientRecord, optionally with
questionnaire answers (which override record evidence), read into an `Evaluation`.

Which defines mean what is the policy's contract (`policy.json` "evaluation",
`service/policy/contract.py`); the engine checks at load that every define it names exists with
the type it is read as, so a renamed or retyped define fails at start-up, not mid-request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from service.cql.engine import CqlEngine
from service.cql.runtime import EvaluationContext
from service.cql.values import Code, CqlValue, decimal_of, parse_date
from service.errors import ConfigurationError, CqlRuntimeError
from service.fhir.record import PatientRecord
from service.policy.contract import (
    CountLimit,
    EvaluationContract,
    Limit,
    PeriodLimit,
    QuantityLimit,
)
from service.policy.data import RecordDataSource
from service.policy.evaluation import (
    CriterionResult,
    Evaluation,
    Evidence,
    LimitResult,
    Outcome,
    PathResult,
    Status,
)
from service.policy.folder import Policy

# Errors an operator raises on data of the wrong shape deep in a record (a string where a number
# belongs, a missing element the FHIR model requires): the evaluation failed, not the service.
DATA_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)
# How a policy's CQL writes, in a criterion's Evidence (a List<String>), that a questionnaire
# answer is the evidence ("answer:<linkId>"; anything else is a reference). Read here, once, into
# typed values: no reader of an evaluation parses it.
ANSWER_EVIDENCE = "answer:"


class PolicyEngine:
    def __init__(self, policy: Policy, cql: CqlEngine) -> None:
        self.policy = policy
        self._cql = cql
        self.contract: EvaluationContract = policy.evaluation
        expected = list(_expected_types(self.contract))
        self._defines = list(dict.fromkeys(name for name, _ in expected))
        cql.require(policy.library, self._defines)
        self._check_types(cql, expected)
        self._parameter_types = cql.parameters(policy.library)
        declared = set(self._parameter_types)
        wanted = {self.contract.order_parameter, self.contract.date_parameter}
        missing = (wanted | set(self.contract.answers.values())) - declared
        if missing:
            raise ConfigurationError(f"{policy.library}: parameters {sorted(missing)} not declared")

    def _check_types(self, cql: CqlEngine, expected: list[tuple[str, str | None]]) -> None:
        """Each define the engine reads has the type it is read as, in every role the contract
        gives it (the contract names it; the ELM declares it)."""
        wrong = sorted(
            f"{name!r} is {found}, read as {kind}"
            for name, kind in expected
            if kind is not None and (found := cql.result_type(self.policy.library, name)) != kind
        )
        if wrong:
            raise ConfigurationError(f"policy {self.policy.id}: {', '.join(wrong)}")

    def evaluate(
        self,
        record: PatientRecord,
        order: str,
        today: date,
        answers: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """`order`: the order's reference in the record ("ServiceRequest/abc"); the library is
        given its id."""
        parameters: dict[str, CqlValue] = {
            self.contract.order_parameter: order.rpartition("/")[2],
            self.contract.date_parameter: today,
        }
        for link_id, value in (answers or {}).items():
            name = self.contract.answers.get(link_id)
            if name is not None and value is not None:
                parameters[name] = _coerce(value, self._parameter_types[name])
        context = EvaluationContext(
            RecordDataSource(record, self.policy.terminology),
            self.policy.terminology,
            parameters,
            today,
        )
        try:
            values = self._cql.evaluate(self.policy.library, self._defines, context)
        except DATA_ERRORS as error:
            # What malformed record data makes the bridge's operators raise; never its message
            # (it may quote the record).
            raise CqlRuntimeError(f"{self.policy.library}: {type(error).__name__}") from error
        return self._read(order, values)

    def unevaluated(self, order: str) -> Evaluation:
        """What is known of an order whose record could not be read or evaluated: nothing.
        Every criterion and path unknown, no limit known, every question left to the form."""
        contract = self.contract
        return Evaluation(
            order=order,
            criteria={c.id: CriterionResult(c.id, Status.UNKNOWN) for c in contract.criteria},
            paths={p: PathResult(p, Status.UNKNOWN) for p in contract.paths},
            outcome=Outcome.INCOMPLETE,
            prefill=dict.fromkeys(contract.prefill),
        )

    def _read(self, order: str, values: Mapping[str, Any]) -> Evaluation:
        contract = self.contract
        criteria = {
            c.id: CriterionResult(
                id=c.id,
                status=_status(values[c.id]),
                value=_plain(values[f"{c.id} Value"]),
                evidence=tuple(_evidence(str(e)) for e in values[f"{c.id} Evidence"] or ()),
                discrepancy=bool(values[c.discrepancy.define]) if c.discrepancy else False,
            )
            for c in contract.criteria
        }
        return Evaluation(
            order=order,
            criteria=criteria,
            paths={p: PathResult(p, _status(values[d])) for p, d in contract.paths.items()},
            outcome=Outcome(values[contract.outcome]),
            limits=tuple(_limit(limit, values) for limit in contract.limits),
            prefill={link_id: _prefilled(values[d]) for link_id, d in contract.prefill.items()},
        )


def _expected_types(contract: EvaluationContract) -> Iterator[tuple[str, str | None]]:
    """Every define the engine reads, with the type it is read as (None: any type; a criterion's
    value is shown as it comes)."""
    for criterion in contract.criteria:
        yield criterion.id, "Boolean"
        yield f"{criterion.id} Value", None
        yield f"{criterion.id} Evidence", "List<String>"
        if criterion.discrepancy is not None:
            yield criterion.discrepancy.define, "Boolean"
    for define in contract.paths.values():
        yield define, "Boolean"
    yield contract.outcome, "String"
    for limit in contract.limits:
        if isinstance(limit, QuantityLimit):
            yield limit.define, "Decimal"
            if limit.ordered is not None:
                yield limit.ordered, "Decimal"
            if limit.basis is not None:
                yield limit.basis, "String"
        elif isinstance(limit, CountLimit):
            yield limit.define, "Integer"
        else:
            yield limit.start, "Date"
            yield limit.years, "Integer"
    for define in contract.prefill.values():
        yield define, None


def _limit(limit: Limit, values: Mapping[str, Any]) -> LimitResult:
    common = partial(LimitResult, limit.id, limit.kind, limit.criterion, limit.label)
    if isinstance(limit, QuantityLimit):
        return common(
            value=_decimal(values[limit.define]),
            unit=limit.unit,
            ordered=_decimal(values[limit.ordered]) if limit.ordered else None,
            basis=_basis(values[limit.basis]) if limit.basis else None,
        )
    if isinstance(limit, PeriodLimit):
        return common(value=values[limit.years], start=values[limit.start])
    return common(value=values[limit.define])


def _evidence(text: str) -> Evidence:
    if text.startswith(ANSWER_EVIDENCE):
        return Evidence.answer(text.removeprefix(ANSWER_EVIDENCE))
    return Evidence.resource(text)


def _basis(value: Any) -> str | None:
    """Why the limit is what it is or, when it is not known (no value), why not."""
    return None if value is None else str(value)


def _coerce(value: Any, elm_type: str) -> Any:
    """An answer as the CQL parameter's System type wants it."""
    kind = elm_type.rsplit("}", 1)[-1]
    if kind == "Decimal":
        return decimal_of(value)
    if kind == "Integer":
        return int(value)
    if kind == "Date" and isinstance(value, str):
        return parse_date(value)
    return value


def _status(value: Any) -> Status:
    if value is True:
        return Status.MET
    if value is False:
        return Status.NOT_MET
    return Status.UNKNOWN


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _prefilled(value: Any) -> str | Decimal | bool | int | date | dict[str, str] | None:
    """A pre-fill define's value, or a list of one: an initialExpression gives a collection (SDC),
    and each question of the form takes one answer. More than one value settles nothing: the
    question is left to the prescriber (no value is picked for them)."""
    if isinstance(value, list):
        return _plain(value[0]) if len(value) == 1 else None
    return _plain(value)


def _plain(value: Any) -> str | Decimal | bool | int | date | dict[str, str] | None:
    if value is None or isinstance(value, (str, Decimal, bool, int, date)):
        return value
    if isinstance(value, Code):
        return {k: v for k, v in (("system", value.system), ("code", value.code)) if v}
    return str(value)
