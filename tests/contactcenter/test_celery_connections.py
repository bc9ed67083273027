"""A Celery worker's database sessions: each pool child keeps its pooled connection between
tasks (Celery's own fix-up closed the pool around every task, so every task forked new
PostgreSQL backends), and a session PostgreSQL ended between tasks costs no task."""

from __future__ import annotations

from urllib.parse import urlsplit

import psutil
import pytest
from django.db import connection

from routing import tasks as routing_tasks
from tests import processes
from tests.processes import ServerProcess, start_celery_worker, tasks_succeeded, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "routing.tasks.expire_offers"


def run_tasks(worker: ServerProcess, count: int) -> None:
    """`count` offer time-outs (each reads PostgreSQL), one after another, each succeeding."""
    for _ in range(count):
        before = tasks_succeeded(worker, TASK)
        routing_tasks.expire_offers.delay()
        wait_for(lambda before=before: tasks_succeeded(worker, TASK) > before, 30, "the task succeeding")


def child_backends(worker: ServerProcess) -> set[int]:
    """The PostgreSQL backends serving the worker's pool child, found by its sockets' ports."""
    [child] = psutil.Process(worker.process.pid).children()
    database_port = urlsplit(processes.test_database_url()).port or 5432
    ports = [c.laddr.port for c in child.net_connections(kind="tcp") if c.raddr and c.raddr.port == database_port]
    if not ports:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND client_port = ANY(%s)", [ports]
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_pool_child_keeps_its_database_session_from_task_to_task(tmp_path):
    worker = start_celery_worker(tmp_path, prefork=True)
    try:
        run_tasks(worker, 1)
        first = child_backends(worker)
        run_tasks(worker, 5)
        assert first, "the child holds no database session between tasks"
        assert child_backends(worker) == first
    finally:
        worker.stop()


def test_a_task_after_postgresql_ended_the_childs_session_still_succeeds(tmp_path):
    worker = start_celery_worker(tmp_path, prefork=True)
    try:
        run_tasks(worker, 1)
        ended = child_backends(worker)
        assert ended
        with connection.cursor() as cursor:  # as a PostgreSQL restart would
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(ended)])
        wait_for(lambda: not child_backends(worker) & ended, 10, "the session ending")

        run_tasks(worker, 2)
        assert "raised unexpected" not in worker.log()
        assert child_backends(worker) - ended
    finally:
        worker.stop()
