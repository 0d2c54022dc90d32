"""CDS Hooks cards as CRD shapes them (CDS Hooks 2.0 "Card Attributes"; CRD "Potential CRD
Response Types"): every card has a uuid, a summary under 140 characters, an indicator, a source
whose topic comes from the card-type code system of the CRD version in use, and the CRD
`davinci-crd.associated-resource` extension naming the order it is about.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from service.crd.versions import CARD_TYPE_DISPLAYS, CrdVersion
from service.types import JsonObject

SUMMARY_LIMIT = 140
Indicator = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class CardSource:
    payer_name: str
    version: CrdVersion


def card(
    source: CardSource,
    topic: str,
    summary: str,
    indicator: Indicator,
    detail: str | None = None,
    order_reference: str | None = None,
) -> JsonObject:
    if len(summary) >= SUMMARY_LIMIT:
        raise ValueError(f"card summary of {len(summary)} characters: {summary[:40]}...")
    built: JsonObject = {
        "uuid": str(uuid.uuid4()),
        "summary": summary,
        "indicator": indicator,
        "source": {
            "label": source.payer_name,
            "topic": {
                "system": source.version.card_type_system,
                "code": topic,
                "display": CARD_TYPE_DISPLAYS[topic],
            },
        },
    }
    if detail:
        built["detail"] = detail
    if order_reference:
        built["extension"] = {"davinci-crd.associated-resource": [{"reference": order_reference}]}
    return built
