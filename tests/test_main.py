"""The command line: `prune` runs once per cluster, in whichever process takes its lease."""

from __future__ import annotations

import os
import subprocess
import sys

from service.settings import PROJECT_ROOT
from service.storage.db import make_engine
from service.storage.locks import Lease


def _prune(database_url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url, "ENVIRONMENT": "development"}
    return subprocess.run(
        [sys.executable, "-m", "service", "prune"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prune_leaves_the_work_to_the_process_holding_its_lease(database_url: str) -> None:
    engine = make_engine(database_url)
    elsewhere = Lease(engine, "retention")
    try:
        assert elsewhere.held()
        done = _prune(database_url)
        assert (done.returncode, done.stdout) == (0, "")
        assert "another process is pruning" in done.stderr
    finally:
        elsewhere.release()
        engine.dispose()
    done = _prune(database_url)
    assert done.returncode == 0
    assert "jwt_replay: 0" in done.stdout
