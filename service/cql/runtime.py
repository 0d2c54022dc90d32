"""What one evaluation needs, passed in explicitly: the data, the terminology, the parameters and
the day. `Frame` carries the per-evaluation define cache and the names in scope."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from service.cql import elm_nodes
from service.cql.values import CqlValue
from service.types import Resource


class DataSource(Protocol):
    def retrieve(self, resource_type: str, value_set: str | None) -> Sequence[Resource]: ...


class Terminology(Protocol):
    def in_value_set(self, system: str, code: str, url: str) -> bool: ...


@dataclass(frozen=True)
class EvaluationContext:
    data: DataSource
    terminology: Terminology
    parameters: Mapping[str, CqlValue]
    today: date


@dataclass
class Frame:
    context: EvaluationContext
    cache: dict[tuple[str, str], CqlValue] = field(default_factory=dict)
    scope: Mapping[str, CqlValue] = field(default_factory=dict)
    # Property navigation already done in this evaluation (service.cql.paths.Navigated).
    navigated: dict[tuple[int, int], tuple[Any, list[Any]]] = field(default_factory=dict)

    def bind(self, names: Mapping[str, CqlValue]) -> Frame:
        return Frame(self.context, self.cache, {**self.scope, **names}, self.navigated)


# A compiled ELM node: called with the evaluation's frame, it gives the node's value.
Thunk = Callable[[Frame], CqlValue]
# Names in scope -> their ELM type name ({ns}Name), if known.
Types = Mapping[str, str | None]
THIS = elm_nodes.THIS
