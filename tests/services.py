"""pytest plugin (loaded with `-p tests.services` before Django): real PostgreSQL and Redis.

With DATABASE_URL / REDIS_URL set (CI) the tests use those servers; otherwise the same
embedded servers `make run` uses are started under var/ and stopped at the end if this run
started them. Either way the code under test sees a real PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import sys
import uuid

os.environ.setdefault("CC_DEMO_MODE", "true")
# A prefix and a Celery queue of their own, so a test run never talks to a `make run` on the same Redis.
_run_id = uuid.uuid4().hex[:8]
os.environ.setdefault("CC_CHANNEL_PREFIX", f"cctest{_run_id}")
os.environ.setdefault("CC_CELERY_QUEUE", f"cctest{_run_id}")

from contactcenter.embedded import ServiceError, ensure_services  # noqa: E402

try:
    _services = ensure_services()
except ServiceError as error:
    sys.exit(f"tests: {error}")


def pytest_report_header(config):
    where = ", ".join(_services.embedded) or "none"
    return f"contact center services: embedded={where}; database={os.environ['DATABASE_URL'].split('@')[-1]}"


def pytest_unconfigure(config):
    # Close the connection pools first: their workers would keep reconnecting to a stopped server.
    from django.db.backends.postgresql.base import DatabaseWrapper

    for pool in list(DatabaseWrapper._connection_pools.values()):
        pool.close()
    DatabaseWrapper._connection_pools.clear()
    _services.stop()
