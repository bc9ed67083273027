"""The fault scripts' long form (issue 10; docs/reliability.md): each fault under a longer load.

    .venv/bin/python bench/faults.py            # all faults, CC_FAULTS=long
    .venv/bin/python bench/faults.py -k redis   # one of them (pytest's -k)

Runs tests/faults with CC_FAULTS=long on the PostgreSQL and Redis of DATABASE_URL /
REDIS_URL, or embedded ones under var/ as `make run` uses, and prints one line per fault:
what was sent, stored, acknowledged and refused, what was lost or duplicated, the reconnect
and resume p95, and how long after recovery every client had converged. CI runs the short
form of the same tests in `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main(argv: list[str]) -> int:
    from contactcenter.embedded import ensure_services

    services = ensure_services()
    try:
        env = {
            **os.environ,
            "CC_FAULTS": "long",
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
        }
        completed = subprocess.run(  # noqa: S603 - our own test suite
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:logging", "-p", "no:cacheprovider",
             "tests/faults", *argv],
            cwd=BASE_DIR, env=env, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        services.stop()
    lines = [line for line in completed.stdout.splitlines() if line.startswith("FAULT ")]
    for line in lines:
        print(line.removeprefix("FAULT "))  # noqa: T201
    summary = completed.stdout.strip().splitlines()[-1:] or ["no output"]
    print(f"tests/faults (long form): {summary[0]}")  # noqa: T201
    if completed.returncode != 0:
        print(completed.stdout[-6000:], completed.stderr[-2000:], sep="\n", file=sys.stderr)  # noqa: T201
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
