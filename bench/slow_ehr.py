"""order-sign against an EHR whose searches outlast the prefetch budget (issue 28), and the
prescriber's path after it: the wall time of the order-sign, then whether the form opens for its
coverage-assertion-id and the completed form is accepted.

    .venv/bin/python bench/slow_ehr.py [--rounds 5]

In-process (the app under Starlette's TestClient), SQLite, the EHR a loopback FHIR server that
answers every search after `delay`. Each budget is run with an EHR slower than it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from service.storage.migrate import upgrade  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.crd.test_answers import hook_request  # noqa: E402
from tests.dtr.test_package import PACKAGE  # noqa: E402
from tests.dtr.test_responses import CONSOLIDATION_ANSWERS, answer, prefilled  # noqa: E402
from tests.policy.test_scenarios import SCENARIOS  # noqa: E402
from tests.support.clock import examples_app  # noqa: E402
from tests.support.loopback_fhir import loopback_fhir  # noqa: E402
from tests.support.resources import fhir_authorization  # noqa: E402

SIGN = "/cds-services/crd-order-sign"
NOT_SENT = ("conditions", "observations")


def round_trip(
    client: TestClient, ehr_url: str, complete: dict[str, Any], n: int
) -> tuple[float, int, int | None]:
    body = hook_request(SCENARIOS[0])
    for key in NOT_SENT:
        del body["prefetch"][key]
    body["hookInstance"] = f"bench-{n}"
    body["fhirServer"] = ehr_url
    body["fhirAuthorization"] = fhir_authorization("t", scope="patient/*.read")
    started = time.perf_counter()
    signed = client.post(SIGN, json=body)
    elapsed_ms = (time.perf_counter() - started) * 1000
    (action,) = signed.json()["systemActions"]
    (info,) = action["resource"]["extension"]
    parts = {p["url"]: p for p in info["extension"]}
    ident = parts["coverage-assertion-id"]["valueString"]
    context = [{"name": "context", "valueString": ident}]
    package = client.post(PACKAGE, json={"resourceType": "Parameters", "parameter": context})
    if package.status_code != 200:
        return elapsed_ms, package.status_code, None
    form = package.json()["parameter"][0]["resource"]["entry"][-1]["resource"]
    form["item"] = complete["item"]
    for link_id, value in CONSOLIDATION_ANSWERS.items():
        answer(form, link_id, value)
    form["status"] = "completed"
    form["identifier"] = {"system": "urn:bench", "value": f"qr-{n}-{time.time_ns()}"}
    submitted = client.post("/fhir/QuestionnaireResponse", json=form)
    return elapsed_ms, package.status_code, submitted.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| budget ms | EHR delay ms | order-sign p50 ms | max ms | package | submit |")
    print("|---|---|---|---|---|---|")
    for budget_ms in (1000, 4000):
        delay_s = budget_ms / 1000 + 1.0
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            settings = make_settings(url, prefetch_budget_ms=budget_ms)
            with loopback_fhir() as ehr, TestClient(examples_app(settings)) as client:
                ehr.serve_otherwise(
                    {"resourceType": "Bundle", "type": "searchset"}, delay_s=delay_s
                )
                complete = prefilled(client, SCENARIOS[0])
                runs = [round_trip(client, ehr.base_url, complete, n) for n in range(args.rounds)]
        times = [r[0] for r in runs]
        packages = sorted({r[1] for r in runs})
        submits = sorted({str(r[2]) for r in runs})
        print(
            f"| {budget_ms} | {delay_s * 1000:.0f} | {statistics.median(times):.0f} "
            f"| {max(times):.0f} | {packages} | {submits} |"
        )


if __name__ == "__main__":
    main()
