"""Where an order-sign's time goes: one worker under steady load, sampled by py-spy.

The service runs as `bench/run.py` runs it for the durable-floor comparison (one worker,
development settings, client authentication off, SQLite), wrk posts the same order-sign for
`--seconds`, and py-spy samples the worker process the whole time (`--rate` per second, idle
stacks left out). The report groups the samples by what the worker was doing: the phases of the
request path named below, by the first frame of each stack that belongs to one of them.

    .venv/bin/python bench/profile_order_sign.py --size 7 --seconds 20

py-spy is a bench dependency (`make bench` installs it); it needs permission to read another
process's memory (root, or ptrace allowed)."""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from run import Signer, service, wrk  # noqa: E402

from records import hook_request  # noqa: E402

HOOK = "/cds-services/crd-order-sign"
# Phases of the request path, by the module (or module:function) a frame is in. The first one of
# a stack's frames, from the innermost out, names the phase its sample is counted in.
PHASES = (
    ("commit (SQLite, writer thread)", ("sqlite3", "service/storage/commits.py")),
    ("audit", ("service/storage/audit.py",)),
    ("policy evaluation (generated CQL)", ("service/cql/", "<generated from ELM>", "service/policy/")),
    ("record building and FHIR validation", ("service/fhir/", "fhir/resources", "pydantic")),
    ("cards and coverage information", ("service/crd/",)),
    ("prefetch and hook parsing", ("service/cdshooks/", "orjson")),
    ("client authentication", ("service/auth/", "jwt/", "cryptography")),
    ("routing and middleware (Starlette, FastAPI)", ("starlette/", "fastapi/", "service/api/")),
    ("server and event loop (uvicorn, asyncio, h11)", ("uvicorn/", "asyncio/", "h11/", "anyio/")),
)


def phase_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for phase, marks in PHASES:
            if any(mark in frame for mark in marks):
                return phase
    return "other"


# Innermost frames that are waiting, not working: py-spy counts a thread blocked in C (the writer
# in its queue's get, the event loop in its selector, a pool thread in its lock) as active, with
# the Python caller as the innermost frame. Left out of the shares; the commit's fsync is kept.
WAITING = (
    "Condition.wait (",
    "GroupCommitter._run (service/storage/commits.py",
    "Runner.run (asyncio/runners.py",
)


def collapsed(path: Path) -> collections.Counter[str]:
    """py-spy's raw (collapsed) output: `frame;frame;... count` per line, outermost first."""
    phases: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        stack = stack_text.split(";")
        if any(stack[-1].strip().startswith(mark) for mark in WAITING):
            continue
        phases[phase_of(stack)] += int(count)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=7, help="resources in the record")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        work = Path(tmp)
        signer = Signer(work)
        body = work / "order-sign.json"
        body.write_text(__import__("json").dumps(hook_request(args.size, today)))
        url = f"sqlite:///{work / 'profile.db'}"
        with service(url, signer, work, development=True, workers=1, auth_mode="off") as svc:
            wrk(svc.url, HOOK, body, 2, 1)  # warm-up
            (worker,) = svc.workers() or [svc.process.pid]
            raw = work / "order-sign.txt"
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(worker), "--rate", str(args.rate), "--format",
                 "raw", "--output", str(raw), "--duration", str(int(args.seconds) + 1)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = wrk(svc.url, HOOK, body, args.seconds, 1)
            sampler.wait(timeout=args.seconds + 30)
        phases = collapsed(raw)
    total = sum(phases.values()) or 1
    calls = result.get("requests", 0)
    print(f"order-sign, {args.size} resources, one worker: {calls} calls in {args.seconds:.0f} s")
    print(f"{'phase':48} {'samples':>8} {'share':>7}")
    for phase, samples in phases.most_common():
        print(f"{phase:48} {samples:8d} {samples / total:7.1%}")


if __name__ == "__main__":
    main()
