#!/usr/bin/env bash
# Runs a command with the calendar DAYS ahead, for it and every process it starts (the service,
# the sandbox EHR, Chromium, PostgreSQL):
#
#   tools/clock_ahead.sh 400 make test-postgresql
#
# Only the calendar moves: the monotonic clock, which timeouts and sleeps measure, is left alone.
# That is why this uses the libfaketime the dev dependencies build from source (PyPI
# `libfaketime`) and not Debian's `faketime` 0.9.10: that one moves CLOCK_MONOTONIC too, and then
# every timed wait of Python 3.11 (threading.Event.wait(t), queue.get(timeout=t): glibc's
# sem_clockwait reaches the kernel without its adjustment) never returns; with its
# --exclude-monotonic, Python's time.sleep fails with EINVAL (its clock_nanosleep shifts an
# absolute monotonic deadline by the offset).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DAYS COMMAND..." >&2
  exit 2
fi
days=$1
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
lib=$("$root/.venv/bin/python" -c 'import libfaketime, pathlib; print(pathlib.Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1")')
test -f "$lib" || { echo "no libfaketime at $lib: make install" >&2; exit 2; }
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
export FAKETIME="+${days}d" FAKETIME_DONT_FAKE_MONOTONIC=1
exec "$@"
