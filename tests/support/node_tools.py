"""Running a Node test tool that reads JSON on stdin and writes JSON on stdout (the oracle, the
client pre-fill, the profile validator): a failing tool fails the test with its stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def run_json(command: list[str | Path], payload: Any, timeout_s: int = 300) -> Any:
    completed = subprocess.run(
        [str(part) for part in command],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)
