"""What the policy engine adds to a process's memory: resident size after loading and compiling
the policy, after building the benchmark's 1000-resource record and evaluating it 30 times,
and the process's peak. Deterministic enough to compare two code trees run one after the other
(run it from each tree's root), which the per-worker peaks of `make bench` on a busy host are
not.

    .venv/bin/python bench/engine_memory.py
"""

from __future__ import annotations

import gc
import resource
import sys
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

EVALUATIONS = 30


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    (policy,) = load_policies(ROOT / "policies")
    gc.collect()
    start = resident_mb()
    # The order of a worker's life: the engine first, then the records of the requests.
    engine = PolicyEngine(policy, CqlEngine([ROOT / "cql", policy.cql_dir]))
    gc.collect()
    loaded = resident_mb() - start
    today = date.today()
    entries, order = bench_entries(1000, today)
    for _ in range(EVALUATIONS):
        engine.evaluate(PatientRecord(entries), f"MedicationRequest/{order}", today)
    gc.collect()
    evaluated = resident_mb() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"engine load +{loaded:.2f} MB; after {EVALUATIONS} evaluations of 1000 resources "
        f"+{evaluated:.2f} MB; process peak {peak:.1f} MB"
    )


if __name__ == "__main__":
    main()
