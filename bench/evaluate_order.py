"""Time to evaluate one order with the policy engine (every define the service reads), on each
example record; the issue target is under 5 ms on the 120-resource record. In-process, warm:
load and compilation happen once, as in the service.

    .venv/bin/python bench/evaluate_order.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.fhir.record import PatientRecord  # noqa: E402
from service.policy.folder import load_policies  # noqa: E402
from service.policy.registry import compile_policies  # noqa: E402

RUNS = 300


def main() -> None:
    started = time.perf_counter()
    (policy,) = load_policies(ROOT / "policies")
    engine = compile_policies([policy], ROOT / "cql")[policy.id]
    print(f"load and compile: {(time.perf_counter() - started) * 1000:.1f} ms")
    for name in ("01-consolidation-adult-record", "29-pediatric-relapsed-cycle-1-step-dose",
                 "31-large-record-relapsed"):
        folder = ROOT / "fhir_examples" / name
        bundle = json.loads((folder / "bundle.json").read_text())
        order = json.loads((folder / "order.json").read_text())["id"]
        samples = []
        for _ in range(RUNS):
            start = time.perf_counter_ns()
            record = PatientRecord((e["resource"], e.get("fullUrl")) for e in bundle["entry"])
            engine.evaluate(record, f"MedicationRequest/{order}", date(2026, 11, 24))
            samples.append((time.perf_counter_ns() - start) / 1e6)
        samples.sort()
        print(f"{name:42s} {len(bundle['entry']):4d} resources  index+evaluate median "
              f"{statistics.median(samples):.2f} ms  p95 {samples[int(RUNS * 0.95)]:.2f} ms")


if __name__ == "__main__":
    main()
