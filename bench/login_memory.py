"""What parallel reviewer sign-ins cost the service: the worker's resident memory before and at
its peak while N sign-ins (16 by default, each a different username, wrong passwords) arrive at
once, how each was answered, and the latency of an EHR's light read (GET /cds-services) meanwhile.
Each password check is Argon2id at argon2-cffi's defaults (64 MiB).

    .venv/bin/python bench/login_memory.py [--tree PATH] [--parallel 16] [--rounds 3]

The service runs as `python -m service serve` does (one worker, SQLite, development settings so
plain http on loopback is allowed), from `--tree` (another checkout, with its own .venv if it has
one) or from this one: run it on the tree before a change and after it, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.processes import free_port, stop, wait_until_up  # noqa: E402


def resident_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler(threading.Thread):
    """The process's resident size every 5 ms until stopped; the highest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, resident_mib(self.pid))
            time.sleep(0.005)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def sign_in(url: str, username: str) -> int:
    with httpx.Client(base_url=url, timeout=60) as http:
        page = http.get("/review/login").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)  # older trees have no form token
        form = {"username": username, "password": "not the password"}
        if found:
            form["csrf"] = found.group(1)
        return http.post("/review/login", data=form).status_code


def reads_ms(url: str, until: threading.Event) -> list[float]:
    took = []
    with httpx.Client(base_url=url, timeout=60) as http:
        while not until.is_set():
            started = time.perf_counter()
            http.get("/cds-services")
            took.append((time.perf_counter() - started) * 1000)
    return took


def burst(url: str, pid: int, parallel: int, round_: int) -> dict[str, object]:
    sampler = Sampler(pid)
    done = threading.Event()
    sampler.start()
    with ThreadPoolExecutor(parallel + 1) as pool:
        reader = pool.submit(reads_ms, url, done)
        names = [f"reviewer-{round_}-{n}" for n in range(parallel)]
        statuses = list(pool.map(lambda name: sign_in(url, name), names))
        done.set()
        took = reader.result()
    return {
        "peak_mib": round(sampler.stop(), 1),
        "answers": dict(Counter(statuses)),
        "read_p50_ms": round(statistics.median(took), 1) if took else None,
    }


def idle_read_ms(url: str) -> float:
    with httpx.Client(base_url=url, timeout=60) as http:
        took = []
        for _ in range(50):
            started = time.perf_counter()
            http.get("/cds-services")
            took.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(took), 1)


def serve(tree: Path, work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    python = tree / ".venv" / "bin" / "python"
    python = python if python.exists() else Path(sys.executable)
    password_hash = subprocess.run(
        [python, "-m", "service", "hash-password"],
        input=b"the reviewer's password\n",
        capture_output=True,
        cwd=tree,
        check=True,
    ).stdout.decode().strip()
    reviewers = work / "reviewers.json"
    entry = {"username": "rn.lee", "passwordHash": password_hash}
    reviewers.write_text(json.dumps({"reviewers": [entry]}))
    port = free_port()
    env = os.environ | {
        "ENVIRONMENT": "development",
        "AUTH_MODE": "off",
        "DATABASE_URL": f"sqlite:///{work / 'service.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "WORKERS": "1",
        "REVIEWERS_FILE": str(reviewers),
        "LOG_LEVEL": "WARNING",
    }
    log = work / "service.log"
    process = subprocess.Popen(
        [python, "-m", "service", "serve"],
        cwd=tree,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/cds-services", process, log)
    return url, process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, process = serve(args.tree.resolve(), Path(folder))
        try:
            idle_ms = idle_read_ms(url)
            before = round(resident_mib(process.pid), 1)
            rounds = [burst(url, process.pid, args.parallel, n) for n in range(args.rounds)]
            after = round(resident_mib(process.pid), 1)
        finally:
            stop(process)
    print(
        json.dumps(
            {
                "tree": str(args.tree),
                "parallel": args.parallel,
                "rss_before_mib": before,
                "rss_after_mib": after,
                "idle_read_p50_ms": idle_ms,
                "rounds": rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
