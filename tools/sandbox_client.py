"""The sandbox EHR as a registered client of the payer (SMART_CLIENTS_FILE), for `make run` and
the browser tests: its CDS Hooks `iss` is its base URL, its keys are at `<base>/auth/jwks`, and
launches from `<base>/fhir` speak for it.

    python -m tools.sandbox_client http://127.0.0.1:8090 > var/smart-clients.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CLIENT_ID = "sandbox-ehr"


def registry(ehr_base: str) -> dict[str, Any]:
    base = ehr_base.rstrip("/")
    return {
        "clients": [
            {
                "client_id": CLIENT_ID,
                "iss": base,
                "jwks_uri": f"{base}/auth/jwks",
                "fhir_servers": [f"{base}/fhir"],
            }
        ]
    }


def write(ehr_base: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(registry(ehr_base), indent=2) + "\n")
    return path


if __name__ == "__main__":
    print(json.dumps(registry(sys.argv[1]), indent=2))
