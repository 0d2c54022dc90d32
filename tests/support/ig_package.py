"""Resources of the DTR STU 2.0.1 IG package (../shared/conformance/dtr/ig, the package the DTR
conformance kit validates against), read by file name. Nothing is fetched."""

from __future__ import annotations

import json
import tarfile
from functools import lru_cache
from typing import Any

from service.settings import PROJECT_ROOT

DTR_PACKAGE = (
    PROJECT_ROOT.parent / "shared" / "conformance" / "dtr" / "ig" / "davinci-dtr-2.0.1.tgz"
)


@lru_cache(maxsize=1)
def _resources() -> dict[str, dict[str, Any]]:
    with tarfile.open(DTR_PACKAGE) as archive:
        found: dict[str, dict[str, Any]] = {}
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is not None and member.name.endswith(".json"):
                found[member.name.removeprefix("package/")] = json.load(extracted)
        return found


def dtr_resource(name: str) -> dict[str, Any]:
    """`CapabilityStatement-dtr-payer-service.json`, `example/Parameters-....json`, ..."""
    return _resources()[name]
