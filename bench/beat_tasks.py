#!/usr/bin/env python
"""What the work of Celery beat's frequent tasks costs: the body of each task of the beat
schedule that runs at least once a minute, called N times in this process (Celery's own
messaging, pool and logging are left out: they are what this measures against); per call
its wall time, this process's CPU, PostgreSQL's CPU and the whole machine's busy time, and
what they add up to per second of the schedule.

Under chat load the tasks due together every few seconds decide the relay's p99
(docs/performance.md, change 20): run this on a quiet machine, against a database with the
chats it should see (for instance right after `bench/chat_load.py`).

    .venv/bin/python bench/beat_tasks.py --calls 30
"""

from __future__ import annotations

import argparse
import time

from django_services import SERVICES  # first: Django set up on the services make run uses

# isort: split
from chat_load import MachineProbe

# isort: split
from django.db import connection

from contactcenter.celery import app


def frequent_tasks(most_seconds: float = 60.0) -> list[tuple[str, float]]:
    entries = app.conf.beat_schedule.values()
    found = {(e["task"], float(e["schedule"])) for e in entries if isinstance(e["schedule"], int | float)}
    return sorted(task for task in found if task[1] <= most_seconds)


def measure(name: str, calls: int) -> dict:
    task = app.tasks[name]
    task.run()  # imports and caches warm
    machine_before, cpu_before, wall_before = MachineProbe.sample(), time.process_time(), time.perf_counter()
    for _ in range(calls):
        task.run()
        connection.close()  # back to the pool, as Django's Celery fix-up does after each task
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    used = MachineProbe.between(machine_before, MachineProbe.sample())
    return {
        "wall_ms": wall * 1e3 / calls,
        "cpu_ms": cpu * 1e3 / calls,
        "postgresql_ms": used["postgresql"] * 1e3 / calls,
        "machine_ms": used["machine"] * 1e3 / calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=30, help="calls per task")
    args = parser.parse_args()
    app.loader.import_default_modules()  # the tasks, as a worker registers them
    try:
        per_second = 0.0
        print(f"{'task (every s)':52s} {'wall ms':>8s} {'CPU ms':>7s} {'PG ms':>6s} {'machine ms':>10s}")
        for name, every in frequent_tasks():
            figures = measure(name, args.calls)
            per_second += figures["machine_ms"] / every
            print(
                f"{name + f' ({every:g})':52s} {figures['wall_ms']:8.1f} {figures['cpu_ms']:7.1f} "
                f"{figures['postgresql_ms']:6.1f} {figures['machine_ms']:10.1f}"
            )
        print(f"beat's frequent tasks: {per_second:.1f} ms of machine CPU per second")
    finally:
        SERVICES.stop()


if __name__ == "__main__":
    main()
