"""Runs the FHIRPath engine test cases (../shared/conformance/fhirpath, HL7 fhirpath.js format)
against fhirpathpy (R4 model) and fhirpathrs, and reports pass/fail/error per file.

Comparison rules (as fhirpath.js's runner): results are collections compared element by element;
numbers compare by value (1 == 1.0), Decimals as numbers; anything else by JSON equality after
turning engine-specific values (Decimal, date objects, FHIR nodes) into plain JSON. A case with
`error: true` passes only if evaluating it raises. Cases marked `disable` and cases for the R5 or
STU3 model are counted as skipped. `variables` become environment variables.

    .venv/bin/python bench/fhirpath/conformance.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import fhirpathpy
import fhirpathrs
import yaml
from fhirpathpy.models import models

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "fhirpath"
Engine = Callable[[str, Any, dict[str, Any]], list[Any]]


def fhirpathpy_engine(expression: str, data: Any, variables: dict[str, Any]) -> list[Any]:
    return list(fhirpathpy.evaluate(data, expression, variables, models["r4"]))


def fhirpathrs_engine(expression: str, data: Any, variables: dict[str, Any]) -> list[Any]:
    return list(fhirpathrs.evaluate(expression, data, variables or None))


def plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "data"):
        return plain(value.data)
    try:
        return str(value)
    except ValueError:
        return repr(value)


def walk(items: list[Any], subject: Any) -> Iterator[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            continue
        groups = [k for k in item if isinstance(k, str) and k.startswith("group")]
        if groups:
            yield from walk(item[groups[0]] or [], subject)
        elif "expression" in item:
            yield {**item, "_subject": subject}


def resource(case: dict[str, Any]) -> Any:
    if case.get("inputfile"):
        return json.loads((CASES / "resources" / "r4" / case["inputfile"]).read_text())
    return case["_subject"]


def run(engine: Engine) -> dict[str, Counter[str]]:
    report: dict[str, Counter[str]] = {}
    for path in sorted((CASES / "cases").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        counts: Counter[str] = Counter()
        for case in walk(document.get("tests") or [], document.get("subject")):
            counts[outcome(engine, case)] += 1
        report[path.stem] = counts
    return report


def outcome(engine: Engine, case: dict[str, Any]) -> str:
    if case.get("disable") or case.get("model") in ("r5", "stu3", "dstu2"):
        return "skipped"
    if case.get("inputfile") and not (CASES / "resources" / "r4" / case["inputfile"]).exists():
        return "skipped"
    try:
        got = plain(engine(str(case["expression"]), resource(case), case.get("variables") or {}))
    except Exception:  # noqa: BLE001 (any engine failure is an outcome to count)
        return "passed" if case.get("error") else "errored"
    if case.get("error"):
        return "failed"
    return "passed" if got == plain(case.get("result", [])) else "failed"


def main() -> None:
    for name, engine in (("fhirpathpy", fhirpathpy_engine), ("fhirpathrs", fhirpathrs_engine)):
        report = run(engine)
        total: Counter[str] = Counter()
        print(f"\n{name}")
        for file, counts in report.items():
            total.update(counts)
            print(f"  {file:36s} " + " ".join(f"{k}={counts[k]}" for k in ("passed", "failed", "errored", "skipped")))
        print(f"  {'TOTAL':36s} " + " ".join(f"{k}={total[k]}" for k in ("passed", "failed", "errored", "skipped")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
