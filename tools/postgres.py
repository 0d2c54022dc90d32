"""A throwaway PostgreSQL server for tests and benchmarks, from Debian's binaries
(`apt-get install postgresql`; .ci/run installs it): a cluster in a temporary directory, on a free
loopback port, owned by the `postgres` system user, stopped and deleted afterwards.

`POSTGRES_URL` in the environment wins: then that server is used as it is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.processes import free_port


def available() -> bool:
    return bool(os.environ.get("POSTGRES_URL")) or bool(_binaries())


def _binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found and shutil.which("runuser") else None


@contextmanager
def server() -> Iterator[str]:
    """A SQLAlchemy URL (psycopg) of a running server's `postgres` database."""
    if os.environ.get("POSTGRES_URL"):
        yield os.environ["POSTGRES_URL"]
        return
    binaries = _binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")
    work = Path(tempfile.mkdtemp(prefix="pg-"))
    os.chmod(work, 0o755)
    data = work / "data"
    data.mkdir()
    shutil.chown(data, "postgres")
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        [
            *as_postgres,
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(data / "log"),
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)


def create_database(url: str, name: str, template: str | None = None) -> str:
    """A new database on the server of `url` (empty, or a copy of `template`); its URL."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{copy}')  # type: ignore[arg-type]
    return url.rsplit("/", 1)[0] + f"/{name}"
