"""`python -m service migrate` brings the database up to date; `python -m service serve` does
that and serves on HOST:PORT."""

from __future__ import annotations

import sys

import uvicorn

from service.logs import configure_logging
from service.settings import get_settings
from service.storage.migrate import upgrade


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    settings = get_settings()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    if command == "migrate":
        return 0
    if command != "serve":
        print(f"usage: python -m service [migrate|serve], not {command!r}", file=sys.stderr)
        return 2
    uvicorn.run(
        "service.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
