"""The CQL bridge's data source over a PatientRecord: a retrieve is an index lookup by the
ValueSet's codes (or all resources of the type), in record order. Only ValueSets with is-a
filters look at each resource of the type, and only at its already-indexed codes."""

from __future__ import annotations

from collections.abc import Sequence

from service.fhir.record import PatientRecord
from service.terminology.valuesets import ValueSetIndex
from service.types import Resource


class RecordDataSource:
    def __init__(self, record: PatientRecord, terminology: ValueSetIndex) -> None:
        self._record = record
        self._terminology = terminology

    def retrieve(self, resource_type: str, value_set: str | None) -> Sequence[Resource]:
        if value_set is None:
            return list(self._record.of_type(resource_type))
        found = self._record.with_any_code(self._terminology.codes(value_set), resource_type)
        prefixes = self._terminology.prefixes(value_set)
        if not prefixes:
            return found
        return [
            resource
            for resource in self._record.of_type(resource_type)
            if any(
                key.system == prefix.system and key.code.startswith(prefix.code)
                for key in self._record.codes(resource)
                for prefix in prefixes
            )
            or any(resource is hit for hit in found)
        ]
