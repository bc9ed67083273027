"""`make run`: start the embedded services, migrate, load demo data, then the ASGI server,
a Celery worker and Celery beat; Ctrl-C stops all of them in order.

`python -m contactcenter.run --manage ARGS…` runs one management command against the same
services instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from .embedded import BASE_DIR, EmbeddedServices, ServiceError, ensure_services

PYTHON = sys.executable
BIN = Path(sys.executable).parent


def _die_with_parent() -> None:
    # Children get SIGTERM if the runner itself is killed, so nothing is left behind.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _manage(*args: str, check: bool = True) -> int:
    result = subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR)  # noqa: S603
    if check and result.returncode != 0:
        raise SystemExit(result.returncode)
    return result.returncode


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_ready(url: str, processes: dict[str, subprocess.Popen], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"run: {name} exited with code {process.returncode}", file=sys.stderr)
                return False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


ASGI_SERVERS = ("uvicorn", "daphne")


def asgi_command(host: str, port: int, env: Mapping[str, str] = os.environ) -> tuple[str, list[str]]:
    """The ASGI server and its command line, from CC_ASGI_SERVER and CC_ASGI_WORKERS.

    uvicorn (the default) runs several worker processes on one port, by default one per core
    up to 4; daphne runs one process. docs/performance.md has the figures behind the defaults.
    """
    server = env.get("CC_ASGI_SERVER", "uvicorn")
    if server not in ASGI_SERVERS:
        raise ValueError(f"CC_ASGI_SERVER={server!r}: choose one of {', '.join(ASGI_SERVERS)}")
    raw_workers = env.get("CC_ASGI_WORKERS", str(min(os.cpu_count() or 1, 4)))
    if not raw_workers.isdigit() or not 1 <= int(raw_workers) <= 64:
        raise ValueError(f"CC_ASGI_WORKERS={raw_workers!r}: a number of processes from 1 to 64")
    workers = int(raw_workers)
    app = "contactcenter.asgi:application"
    if server == "daphne":
        if workers != 1 and "CC_ASGI_WORKERS" in env:
            raise ValueError("daphne runs one process; use CC_ASGI_SERVER=uvicorn for CC_ASGI_WORKERS > 1")
        return "daphne", [str(BIN / "daphne"), "-b", host, "-p", str(port), app]
    return "uvicorn", [
        str(BIN / "uvicorn"), app, "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets", "--lifespan", "off",
        "--no-access-log", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
        # Our frames are at most 32 KiB (an error frame says so); anything past 1 MiB closes the socket (1009).
        "--ws-max-size", str(1024 * 1024),
        # Chat frames are a few hundred bytes: compressing each costs more CPU than it saves.
        "--ws-per-message-deflate", "false",
    ]  # fmt: skip


def serve(services: EmbeddedServices) -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT", "8000"))
    except ValueError:
        print(f"run: PORT={os.environ['PORT']!r} is not a number", file=sys.stderr)
        return 2
    if not _port_free(host, port):
        print(f"run: port {port} on {host} is in use; stop what holds it or choose another with PORT=", file=sys.stderr)
        return 2

    _manage("check", "--fail-level", "ERROR")
    _manage("migrate", "--noinput", "-v", "0")
    _manage("load_demo")

    var_dir = Path(os.environ.get("CC_VAR_DIR", BASE_DIR / "var"))
    try:
        asgi = asgi_command(host, port)
    except ValueError as error:
        print(f"run: {error}", file=sys.stderr)
        return 2
    commands = {
        asgi[0]: asgi[1],
        "celery worker": [str(BIN / "celery"), "-A", "contactcenter", "worker", "-l", "INFO", "--concurrency", "2"],
        # Calls' media: legs, hold music, bridges, recordings (docs/voice.md).
        "media worker": [PYTHON, str(BASE_DIR / "manage.py"), "media_worker"],
        "celery beat": [
            str(BIN / "celery"), "-A", "contactcenter", "beat", "-l", "INFO",
            "--schedule", str(var_dir / "celerybeat-schedule"), "--pidfile", "",
        ],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(  # noqa: S603
                command, cwd=BASE_DIR, start_new_session=True, preexec_fn=_die_with_parent
            )
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
        if not _wait_ready(f"{base}/readyz", processes):
            print("run: the system did not become ready; see the log above", file=sys.stderr)
            return 1
        print(
            f"""
Contact center is running (Ctrl-C stops everything):
  Demo customer page   {base}/demo/
  Agent workspace      {base}/workspace/
  Configuration console {base}/admin/
  API docs             {base}/api/docs/
  Health               {base}/healthz  {base}/readyz
Demo logins (password "demo"): agent1 … agent5, supervisor, admin
Services: PostgreSQL {"embedded under var/" if "postgresql" in services.embedded else "from DATABASE_URL"}, \
Redis {"embedded on " + services.redis_url if "redis" in services.embedded else "from REDIS_URL"}
""",
            flush=True,
        )
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"run: {name} exited with code {process.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
        return 0
    finally:
        print("run: stopping…", flush=True)
        _stop(processes)


def main(argv: list[str]) -> int:
    try:
        services = ensure_services()
    except ServiceError as error:
        print(f"run: {error}", file=sys.stderr)
        return 2
    try:
        if argv[:1] == ["--manage"]:
            return _manage(*argv[1:], check=False)
        return serve(services)
    finally:
        started = list(services.started)
        services.stop()
        if started:
            print("run: stopped embedded " + ", ".join(started), file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
