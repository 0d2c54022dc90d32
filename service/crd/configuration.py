"""CRD configuration options (CRD "New hook configuration mechanism", dev-4..dev-14): declared in
discovery, read per request from `davinci-crd.configuration`. Unknown options and values of the
wrong type are ignored (dev-6: nonsensical input is handled gracefully, defaults apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from service.types import JsonObject


@dataclass(frozen=True)
class ConfigurationOption:
    code: str
    type: Literal["boolean", "integer"]
    name: str
    description: str
    default: bool | int

    def as_json(self) -> JsonObject:
        return {
            "code": self.code,
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "default": self.default,
        }


OPTIONS: tuple[ConfigurationOption, ...] = (
    ConfigurationOption(
        "coverage-info",
        "boolean",
        "Coverage Information",
        "Coverage, prior authorization and documentation requirements for the order, as a "
        "coverage-information system action and an instructions card.",
        True,
    ),
    ConfigurationOption(
        "limits",
        "boolean",
        "Coverage Limits",
        "A warning when the ordered dose exceeds the covered dose for this patient, with a "
        "suggestion that sets the dose to the limit.",
        True,
    ),
    ConfigurationOption(
        "guideline",
        "boolean",
        "Payer Policy",
        "A link to the payer's published coverage policy for the ordered drug.",
        True,
    ),
    ConfigurationOption(
        "off-guideline",
        "boolean",
        "Off-policy Indication",
        "A warning when the recorded diagnosis is outside the policy's listed indications.",
        True,
    ),
    ConfigurationOption(
        "max-cards",
        "integer",
        "Maximum cards",
        "The most cards returned; the most important come first.",
        10,
    ),
)


@dataclass(frozen=True)
class Configuration:
    values: Mapping[str, bool | int]

    def enabled(self, code: str) -> bool:
        return bool(self.values[code])

    @property
    def max_cards(self) -> int:
        return int(self.values["max-cards"])


def configuration(extension: Mapping[str, object] | None) -> Configuration:
    asked = (extension or {}).get("davinci-crd.configuration")
    asked = asked if isinstance(asked, dict) else {}
    values: dict[str, bool | int] = {}
    for option in OPTIONS:
        value = asked.get(option.code)
        values[option.code] = value if _fits(option, value) else option.default  # type: ignore[assignment]
    return Configuration(values)


def _fits(option: ConfigurationOption, value: object) -> bool:
    if option.type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
