"""Speed of the two FHIRPath engines on the 120-resource example record
(fhir_examples/31-large-record-relapsed): a where() over the whole Bundle, against a
path on one resource (what the bridge does). Median and p95 in microseconds.

    .venv/bin/python bench/fhirpath/speed.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fhirpathpy
import fhirpathrs
from fhirpathpy.models import models

RECORD = Path(__file__).resolve().parents[2] / "fhir_examples" / "31-large-record-relapsed" / "bundle.json"
WHOLE = "entry.resource.ofType(Observation).where(code.coding.where(system='http://loinc.org' and code='29463-7').exists())"


def timed(call: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main() -> None:
    bundle = json.loads(RECORD.read_text())
    weight = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "wt")
    print(f"record: {len(bundle['entry'])} resources")
    compiled_whole = fhirpathpy.compile(WHOLE, models["r4"])
    compiled_value = fhirpathpy.compile("value.ofType(Quantity).value", models["r4"])
    cases = {
        "fhirpathpy  whole bundle where() (compiled)": (lambda: compiled_whole(bundle, {}), 50),
        "fhirpathrs  whole bundle where()": (lambda: fhirpathrs.evaluate(WHOLE, bundle), 50),
        "fhirpathpy  one resource value.ofType(Quantity).value (compiled)": (lambda: compiled_value(weight, {}), 2000),
        "fhirpathpy  same, parsed per call": (lambda: fhirpathpy.evaluate(weight, "value.ofType(Quantity).value", {}, models["r4"]), 500),
        "fhirpathrs  one resource valueQuantity.value": (lambda: fhirpathrs.evaluate("valueQuantity.value", weight), 2000),
    }
    for name, (call, runs) in cases.items():
        median, p95 = timed(call, runs)
        print(f"{name:66s} median {median:9.1f} us   p95 {p95:9.1f} us")


if __name__ == "__main__":
    main()
