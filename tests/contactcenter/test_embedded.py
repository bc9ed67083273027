"""The embedded services `make run` and `make test` use when no URLs are configured."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from contactcenter.embedded import ServiceError, start_postgres, start_redis, stop_postgres

BASE_DIR = Path(__file__).resolve().parents[2]


def test_embedded_postgres_and_redis_start_serve_and_stop(tmp_path):
    database_url, started = start_postgres(tmp_path / "postgres", database="probe")
    redis_url, redis_process = start_redis(tmp_path / "redis")
    try:
        assert started
        with psycopg.connect(database_url) as connection:
            assert connection.execute("SELECT current_database(), 40 + 2").fetchone() == ("probe", 42)
        client = redis.Redis.from_url(redis_url)
        client.set("round-trip", "ok")
        assert client.get("round-trip") == b"ok"

        # A second start reuses both servers instead of starting new ones.
        assert start_postgres(tmp_path / "postgres", database="probe") == (database_url, False)
        assert start_redis(tmp_path / "redis") == (redis_url, None)
    finally:
        redis_process.terminate()
        redis_process.wait(10)
        stop_postgres(tmp_path / "postgres")

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()


def test_a_data_directory_from_another_postgres_version_is_refused_clearly(tmp_path):
    data = tmp_path / "postgres"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    with pytest.raises(ServiceError, match=r"holds a PostgreSQL 15 data directory .* set DATABASE_URL"):
        start_postgres(data)


def test_run_says_in_one_line_when_its_port_is_in_use():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "contactcenter.run"],
            cwd=BASE_DIR,
            env={**os.environ, "PORT": str(port), "CC_DEMO_MODE": "true"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert f"run: port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr
