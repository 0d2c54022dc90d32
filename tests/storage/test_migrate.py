"""Replicas that start together on an empty database all migrate it and come up: one migrates,
the others wait for it and find the schema current (they used to fail on alembic_version)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text

from service.settings import PROJECT_ROOT
from service.storage.db import make_engine

REPLICAS = 4


def test_replicas_migrating_an_empty_database_at_once_all_succeed(empty_database_url: str) -> None:
    env = os.environ | {"DATABASE_URL": empty_database_url}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "service", "migrate"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(REPLICAS)
    ]
    outputs = [run.communicate(timeout=180)[0].decode() for run in runs]
    failed = [output[-2000:] for run, output in zip(runs, outputs, strict=True) if run.returncode]
    assert failed == []
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1
