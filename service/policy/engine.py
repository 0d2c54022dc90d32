"""Evaluates one order against a policy: the policy's CQL over the PatientRecord, optionally with
questionnaire answers (which override record evidence), read into an `Evaluation`.

Which defines mean what is the policy's data (`policy.json` "evaluation"); the engine checks at
load that every one of them exists, so a renamed define fails at start-up, not mid-request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from service.cql.engine import CqlEngine
from service.cql.runtime import EvaluationContext
from service.cql.values import Code, decimal_of, parse_date
from service.errors import ConfigurationError, CqlRuntimeError
from service.fhir.record import PatientRecord
from service.policy.data import RecordDataSource
from service.policy.evaluation import (
    CriterionResult,
    CycleLimit,
    DoseLimit,
    Evaluation,
    Outcome,
    PathResult,
    Status,
)
from service.policy.folder import Policy
from service.types import JsonObject


@dataclass(frozen=True)
class EvaluationContract:
    library: str
    order_parameter: str
    date_parameter: str
    criteria: tuple[str, ...]
    discrepancies: Mapping[str, str]
    paths: Mapping[str, str]
    outcome: str
    dose_limit: Mapping[str, str]
    cycles: Mapping[str, str]
    answers: Mapping[str, str]
    prefill: Mapping[str, str]

    @classmethod
    def of(cls, policy: Policy) -> EvaluationContract:
        spec: JsonObject = policy.evaluation
        try:
            return cls(
                library=policy.library,
                order_parameter=spec["orderParameter"],
                date_parameter=spec["dateParameter"],
                criteria=tuple(spec["criteria"]),
                discrepancies=spec.get("discrepancies", {}),
                paths=spec["paths"],
                outcome=spec["outcome"],
                dose_limit=spec["doseLimit"],
                cycles=spec["cycles"],
                answers=spec["answers"],
                prefill=spec.get("prefill", {}),
            )
        except KeyError as error:
            raise ConfigurationError(
                f"{policy.folder}/policy.json: evaluation lacks {error}"
            ) from None

    def __post_init__(self) -> None:
        """Every key the engine reads is there, checked when the policy loads: a missing one
        would otherwise make every evaluation fail, each answered as `technical`."""
        for section, given, needed in (
            ("doseLimit", self.dose_limit, ("mcgPerDay", "stepMcgPerDay", "basis")),
            ("cycles", self.cycles, ("max", "coveragePeriodYears")),
        ):
            missing = [key for key in needed if not isinstance(given.get(key), str)]
            if missing:
                raise ConfigurationError(
                    f"policy {self.library}: evaluation.{section} lacks {', '.join(missing)}"
                )
        if not self.criteria or not self.paths:
            raise ConfigurationError(f"policy {self.library}: no criteria or no paths")
        unknown = sorted(set(self.discrepancies) - set(self.criteria))
        if unknown:
            raise ConfigurationError(
                f"policy {self.library}: discrepancies for unknown criteria {unknown}"
            )

    def defines(self) -> list[str]:
        per_criterion = [
            f"{c}{suffix}" for c in self.criteria for suffix in ("", " Value", " Evidence")
        ]
        return [
            *per_criterion,
            *self.discrepancies.values(),
            *self.paths.values(),
            self.outcome,
            *self.dose_limit.values(),
            *self.cycles.values(),
            *self.prefill.values(),
        ]


# Errors an operator raises on data of the wrong shape deep in a record (a string where a number
# belongs, a missing element the FHIR model requires): the evaluation failed, not the service.
DATA_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)


class PolicyEngine:
    def __init__(self, policy: Policy, cql: CqlEngine) -> None:
        self.policy = policy
        self._cql = cql
        self.contract = EvaluationContract.of(policy)
        self._defines = self.contract.defines()
        cql.require(policy.library, self._defines)
        self._check_types(cql)
        self._parameter_types = cql.parameters(policy.library)
        declared = set(self._parameter_types)
        wanted = {self.contract.order_parameter, self.contract.date_parameter}
        missing = (wanted | set(self.contract.answers.values())) - declared
        if missing:
            raise ConfigurationError(f"{policy.library}: parameters {sorted(missing)} not declared")

    def _check_types(self, cql: CqlEngine) -> None:
        """Each define the engine reads has the type it is read as (policy.json names it; the
        ELM declares it): a String outcome, Boolean criteria and paths, a List of evidence
        references, Decimal limits, Integer cycle limits, a Date for the first cycle."""
        contract = self.contract
        expected = [
            *((c, "Boolean") for c in contract.criteria),
            *((f"{c} Evidence", "List<String>") for c in contract.criteria),
            *((d, "Boolean") for d in contract.paths.values()),
            *((d, "Boolean") for d in contract.discrepancies.values()),
            (contract.outcome, "String"),
            (contract.dose_limit["mcgPerDay"], "Decimal"),
            (contract.dose_limit["stepMcgPerDay"], "Decimal"),
            (contract.dose_limit["basis"], "String"),
            (contract.cycles["max"], "Integer"),
            (contract.cycles["coveragePeriodYears"], "Integer"),
        ]
        if "firstCycleDate" in contract.cycles:
            expected.append((contract.cycles["firstCycleDate"], "Date"))
        wrong = sorted(
            f"{name!r} is {found}, read as {kind}"
            for name, kind in expected
            if (found := cql.result_type(self.policy.library, name)) != kind
        )
        if wrong:
            raise ConfigurationError(f"policy {self.policy.id}: {', '.join(wrong)}")

    def evaluate(
        self,
        record: PatientRecord,
        order_id: str,
        today: date,
        answers: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        parameters: dict[str, object] = {
            self.contract.order_parameter: order_id,
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
        return self._read(f"MedicationRequest/{order_id}", values)

    def _read(self, order: str, values: Mapping[str, Any]) -> Evaluation:
        contract = self.contract
        criteria = {
            c: CriterionResult(
                id=c,
                status=_status(values[c]),
                value=_plain(values[f"{c} Value"]),
                evidence=tuple(str(e) for e in values[f"{c} Evidence"] or ()),
                discrepancy=bool(values[contract.discrepancies[c]])
                if c in contract.discrepancies
                else False,
            )
            for c in contract.criteria
        }
        return Evaluation(
            order=order,
            criteria=criteria,
            paths={p: PathResult(p, _status(values[d])) for p, d in contract.paths.items()},
            outcome=Outcome(values[contract.outcome]),
            dose_limit=DoseLimit(
                _decimal(values[contract.dose_limit["mcgPerDay"]]),
                _decimal(values[contract.dose_limit["stepMcgPerDay"]]),
                str(values[contract.dose_limit["basis"]]),
            ),
            cycle_limit=CycleLimit(
                values[contract.cycles["max"]], values[contract.cycles["coveragePeriodYears"]]
            ),
            first_cycle_date=values.get(contract.cycles.get("firstCycleDate", "")),
            prefill={link_id: _plain(values[d]) for link_id, d in contract.prefill.items()},
            step_dose_mcg=_decimal(values.get(contract.dose_limit.get("orderedStepMcgPerDay", ""))),
        )


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


def _plain(value: Any) -> str | Decimal | bool | int | date | dict[str, str] | None:
    if value is None or isinstance(value, (str, Decimal, bool, int, date)):
        return value
    if isinstance(value, Code):
        return {k: v for k, v in (("system", value.system), ("code", value.code)) if v}
    return str(value)
