"""What one evaluation needs, passed in explicitly: the data, the terminology, the parameters and
the day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

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


# Names in scope -> their ELM type name ({ns}Name), if known.
Types = Mapping[str, str | None]
THIS = elm_nodes.THIS
