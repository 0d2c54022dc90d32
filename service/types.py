"""Type aliases shared across the package. `Any` lives only here, at the raw-JSON boundary."""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
JsonValue: TypeAlias = Any
Resource: TypeAlias = dict[str, Any]
