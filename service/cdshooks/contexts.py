"""Hook contexts of the order hooks CRD uses (CDS Hooks library: order-sign 1.x, order-select 1.x,
order-dispatch 1.x) and the orders each one names.

order-dispatch is accepted in both forms: `dispatchedOrders` (array of references, current) and
`order` (one reference, older drafts still sent by the CRD conformance kit).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.types import Resource

_LENIENT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class HookContext(BaseModel):
    model_config = _LENIENT

    patient_id: str = Field(alias="patientId", min_length=1)

    def order_resources(self) -> list[Resource]:
        """Orders carried inline in the context."""
        return []

    def order_references(self) -> list[str]:
        """Orders named by reference only; the resolver fetches the ones prefetch lacks."""
        return []


class DraftOrdersContext(HookContext):
    user_id: str = Field(alias="userId", min_length=1)
    encounter_id: str | None = Field(default=None, alias="encounterId")
    draft_orders: dict[str, Any] = Field(alias="draftOrders")

    @field_validator("draft_orders")
    @classmethod
    def _bundle_of_resources(cls, bundle: dict[str, Any]) -> dict[str, Any]:
        if bundle.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise ValueError("draftOrders.entry must be an array")
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise ValueError(f"draftOrders.entry[{index}] has no resource")
        return bundle

    def order_resources(self) -> list[Resource]:
        return [entry["resource"] for entry in self.draft_orders.get("entry", [])]


class OrderSignContext(DraftOrdersContext):
    pass


class OrderSelectContext(DraftOrdersContext):
    selections: list[str] = Field(min_length=1)

    def order_resources(self) -> list[Resource]:
        # CRD answers order-select for the newly selected orders only.
        chosen = set(self.selections)
        return [r for r in super().order_resources() if _reference_of(r) in chosen]


class OrderDispatchContext(HookContext):
    dispatched_orders: list[str] | None = Field(default=None, alias="dispatchedOrders")
    order: str | None = None
    performer: str = Field(min_length=1)

    @model_validator(mode="after")
    def _names_orders(self) -> OrderDispatchContext:
        if not self.dispatched_orders and not self.order:
            raise ValueError("order-dispatch context needs dispatchedOrders (or the older order)")
        return self

    def order_references(self) -> list[str]:
        return list(self.dispatched_orders or []) or [str(self.order)]


def _reference_of(resource: Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"
