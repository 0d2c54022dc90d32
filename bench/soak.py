"""Soak: mixed load for ten minutes on the service as users run it; memory must stay flat and
nothing may fail.

    .venv/bin/python bench/soak.py [--minutes 10]    (make soak)

Production settings, 2 workers, SQLite. Four wrk processes run at once, one client each:
order-sign on the 20- and the 120-resource records (each request with its own JWT),
$questionnaire-package and $evaluate. Every worker's resident memory is sampled every 10 s.
Writes bench/soak.json and the "Soak" section of bench/RESULTS.md (via report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from run import (
    BENCH,
    EXTRA_ENV,
    PYTHON,
    Signer,
    assertion_and_response,
    hook_request,
    service,
    wrk,
)

HOOK = "/cds-services/crd-order-sign"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    seconds = round(args.minutes * 60)
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        signer = Signer(work)
        url = f"sqlite:///{work / 'soak.db'}"
        # DTR access tokens for the whole soak (the service caps them at an hour).
        EXTRA_ENV["ACCESS_TOKEN_LIFETIME_S"] = "3600"
        with service(url, signer, work) as svc:
            bearer = signer.access_token(svc.url)
            fixed = work / "bearer.tokens"
            fixed.write_text(bearer + "\n")
            assertion, response = assertion_and_response(
                svc, signer, hook_request(120, today), bearer
            )
            cases = []
            for size in (20, 120):
                body = work / f"sign-{size}.json"
                body.write_text(json.dumps(hook_request(size, today)))
                cases.append((f"order-sign {size}", HOOK, body, True))
            package = work / "package.json"
            package.write_text(
                json.dumps(
                    {
                        "resourceType": "Parameters",
                        "parameter": [{"name": "context", "valueString": assertion}],
                    }
                )
            )
            evaluate = work / "evaluate.json"
            evaluate.write_text(json.dumps(response))
            cases.append(
                (
                    "$questionnaire-package",
                    "/fhir/Questionnaire/$questionnaire-package",
                    package,
                    False,
                )
            )
            cases.append(("$evaluate", "/fhir/QuestionnaireResponse/$evaluate", evaluate, False))

            samples: list[dict[str, object]] = []
            done = threading.Event()

            def sample() -> None:
                started = time.monotonic()
                while not done.wait(10 if samples else 0):
                    samples.append(
                        {"t_s": round(time.monotonic() - started), "rss_mb": svc.worker_rss_mb()}
                    )

            results: dict[str, list[dict[str, object]]] = {name: [] for name, *_ in cases}

            def load(name: str, path: str, body: Path, signed: bool) -> None:
                # JWTs live 5 minutes at most: signed cases run in segments of 3 minutes, each
                # with tokens minted just before it (a few seconds of lighter load in between).
                segments = -(-seconds // 180) if signed else 1
                for segment in range(segments):
                    tokens = fixed
                    if signed:
                        tokens = signer.tokens(
                            f"{svc.url}{path}", 300 * 180, work / f"{name}-{segment}.tokens"
                        )
                    results[name].append(wrk(svc.url, path, body, seconds / segments, 1, tokens))

            sampler = threading.Thread(target=sample)
            sampler.start()
            threads = [threading.Thread(target=load, args=case) for case in cases]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            done.set()
            sampler.join()
            samples.append({"t_s": seconds, "rss_mb": svc.worker_rss_mb()})
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "cases": {
            name: {
                "requests": sum(int(r["requests"]) for r in runs),
                "errors": sum(
                    int(r[k])
                    for r in runs
                    for k in (
                        "connect_errors",
                        "read_errors",
                        "write_errors",
                        "status_errors",
                        "timeouts",
                    )
                ),
                "p50_ms": max(float(r["p50_us"]) for r in runs) / 1000,
                "p99_ms": max(float(r["p99_us"]) for r in runs) / 1000,
            }
            for name, runs in results.items()
        },
        "rss_samples": samples,
    }
    (BENCH / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name, figures in summary["cases"].items():
        print(name, figures)
    first, last = samples[1]["rss_mb"], samples[-1]["rss_mb"]
    print("rss after 10 s:", first, "at the end:", last)
    subprocess.run([str(PYTHON), str(BENCH / "report.py")], check=True)


if __name__ == "__main__":
    main()
