"""How long the prescriber waits: the sandbox EHR's `/launch/NN` to a usable form (the SMART
launch, the token exchange, the questionnaire package, the record pre-fill, LHC-Forms rendered
and the first $evaluate shown: `body[data-state=ready]` and an outcome on screen), in headless
Chromium, each launch in a fresh browser context (no cache, as a new session is).

    .venv/bin/python bench/launch_to_form.py [--example 01] [--launches 10] [--write]

The payer service and the sandbox EHR are started as the browser tests start them (development
settings, SQLite, EVALUATION_DATE pinned). `--write` puts the figures in bench/RESULTS.md, in
the section "Launch to a usable form" (replaced on each run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, running_stack  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Launch to a usable form"


def measure(example: str, launches: int) -> list[float]:
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as work, running_stack(Path(work)) as stack:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            for _ in range(launches + 1):  # the first warms the service's caches: not counted
                context = browser.new_context(viewport={"width": 1360, "height": 1000})
                page = context.new_page()
                started = time.perf_counter()
                page.goto(f"{stack.ehr}/launch/{example}")
                page.wait_for_selector("body[data-state=ready]", timeout=60000)
                page.wait_for_selector("#outcome[data-outcome]", timeout=60000)
                seconds.append(time.perf_counter() - started)
                context.close()
            browser.close()
    return seconds[1:]


def section(example: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered)
    load = os.getloadavg()[0]
    return (
        f"{HEADING}\n\n"
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} by"
        f" `bench/launch_to_form.py --example {example} --launches {len(seconds)}`: the sandbox"
        f" EHR's `/launch/{example}` to the form ready with its criteria shown, headless Chromium,"
        " a fresh context per launch, after one launch not counted. The machine (2 cores) was"
        f" shared with other people's test runs (load average {load:.1f} at the end), so these are"
        " upper figures.\n\n"
        f"p50 {p50:.2f} s; min {ordered[0]:.2f} s; max {ordered[-1]:.2f} s; each:"
        f" {', '.join(f'{s:.2f}' for s in seconds)} s.\n"
    )


def write(text: str) -> None:
    current = RESULTS.read_text()
    if HEADING in current:
        before, _, after = current.partition(HEADING)
        rest = after.split("\n## ", 1)
        current = before + (("## " + rest[1]) if len(rest) > 1 else "")
    RESULTS.write_text(current.rstrip("\n") + "\n\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", default="01")
    parser.add_argument("--launches", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    given = parser.parse_args()
    seconds = measure(given.example, given.launches)
    text = section(given.example, seconds)
    print(text)
    if given.write:
        write(text)


if __name__ == "__main__":
    main()
