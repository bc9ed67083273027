"""A Celery worker's database sessions: each pool child keeps its pooled connection between
tasks (Celery's own fix-up closed the pool around every task, so every task forked new
PostgreSQL backends), and a session PostgreSQL ended between tasks costs no task."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from celery import signals
from django.db import connection, connections

from contactcenter.celery import _WorkerFixup, app
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


def start_named_worker(tmp_path) -> tuple[ServerProcess, str]:
    """A prefork worker whose database sessions carry a name of their own, so that they are
    found in `pg_stat_activity` over TCP as over the embedded server's Unix socket."""
    name = f"celery-test-{uuid.uuid4().hex[:8]}"
    url = processes.test_database_url()
    url += ("&" if urlsplit(url).query else "?") + f"application_name={name}"
    return start_celery_worker(tmp_path, prefork=True, DATABASE_URL=url), name


def worker_backends(name: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name])
        return {row[0] for row in cursor.fetchall()}


def test_a_pool_child_keeps_its_database_sessions_from_task_to_task(tmp_path):
    worker, name = start_named_worker(tmp_path)
    try:
        run_tasks(worker, 2)  # the child's pool opens and may grow to a second session
        first = worker_backends(name)
        run_tasks(worker, 5)
        assert first, "the child holds no database session between tasks"
        assert worker_backends(name) == first
    finally:
        worker.stop()


def test_a_task_after_postgresql_ended_the_childs_sessions_still_succeeds(tmp_path):
    worker, name = start_named_worker(tmp_path)
    try:
        run_tasks(worker, 2)
        ended = worker_backends(name)
        assert ended
        with connection.cursor() as cursor:  # as a PostgreSQL restart would
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(ended)])
        wait_for(lambda: not worker_backends(name) & ended, 10, "the sessions ending")

        run_tasks(worker, 2)
        assert "raised unexpected" not in worker.log()
        assert worker_backends(name) - ended
    finally:
        worker.stop()


def test_the_worker_closes_its_database_pool_before_forking_children():
    """Children must not inherit the parent's pool (its sessions would be shared across
    processes); the fix-up keeps Celery's own close before forking."""
    connection.ensure_connection()
    pool = connection.pool  # the process's pool, a session open in it
    fixup = _WorkerFixup(app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
    health_checks = {alias: connections.settings[alias].get("CONN_HEALTH_CHECKS") for alias in connections}
    try:
        fixup.install()
        assert pool.closed
        assert connections.settings["default"]["CONN_HEALTH_CHECKS"] is True
    finally:
        for signal, receiver in (
            (signals.beat_embedded_init, fixup.close_database),
            (signals.task_prerun, fixup.on_task_prerun),
            (signals.task_postrun, fixup.on_task_postrun),
            (signals.worker_process_init, fixup.on_worker_process_init),
        ):
            signal.disconnect(receiver)
        for alias, value in health_checks.items():
            connections.settings[alias]["CONN_HEALTH_CHECKS"] = value
