"""Time to evaluate one order with the policy engine (every define the service reads), on example
records and on the benchmark's records, with the generated code the service runs. In-process,
warm: load and compilation happen once, as in the service.

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
sys.path.insert(0, str(ROOT / "bench"))

from records import entries as bench_entries  # noqa: E402

from service.cql.engine import CqlEngine  # noqa: E402
from service.fhir.record import PatientRecord  # noqa: E402
from service.policy.engine import PolicyEngine  # noqa: E402
from service.policy.folder import load_policies  # noqa: E402

RUNS = 300


def main() -> None:
    (policy,) = load_policies(ROOT / "policies")
    engines = {}
    for kind in ("generated",):
        started = time.perf_counter()
        engines[kind] = PolicyEngine(policy, CqlEngine([ROOT / "cql", policy.cql_dir]))
        print(f"{kind}: load and compile {(time.perf_counter() - started) * 1000:.1f} ms")
    today = date.today()
    records = {}
    for name in ("01-consolidation-adult-record", "31-large-record-relapsed"):
        folder = ROOT / "fhir_examples" / name
        bundle = json.loads((folder / "bundle.json").read_text())
        order = json.loads((folder / "order.json").read_text())["id"]
        records[name] = ([(e["resource"], e.get("fullUrl")) for e in bundle["entry"]], order)
    for size in (120, 1000):
        records[f"bench record of {size}"] = bench_entries(size, today)
    for name, (entries, order) in records.items():
        day = date(2026, 11, 24) if name.startswith("0") or name.startswith("3") else today
        figures = []
        for kind, engine in engines.items():
            samples = []
            for _ in range(RUNS):
                start = time.perf_counter_ns()
                record = PatientRecord(entries)
                engine.evaluate(record, f"MedicationRequest/{order}", day)
                samples.append((time.perf_counter_ns() - start) / 1e6)
            samples.sort()
            figures.append(
                f"{kind} {statistics.median(samples):.2f} ms (p95 {samples[int(RUNS * 0.95)]:.2f})"
            )
        print(
            f"{name:34s} {len(entries):4d} resources  index+evaluate median: {';  '.join(figures)}"
        )


if __name__ == "__main__":
    main()
