"""Real server processes for tests: daphne, uvicorn, Redis and Celery workers on the test database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL pointed at the database pytest-django created for this run."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path="/" + settings.DATABASES["default"]["NAME"]).geturl()


def process_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        CC_DEMO_MODE="true",
        CC_CHANNEL_PREFIX=settings.CHANNEL_PREFIX,
        CC_CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@dataclass
class ServerProcess:
    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_daphne(log_dir: Path, *, daphne_args: tuple[str, ...] = (), **env: str) -> ServerProcess:
    port = free_port()
    log_path = log_dir / f"daphne-{port}.log"
    process = subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), *daphne_args, "contactcenter.asgi:application"],
        cwd=BASE_DIR,
        env=process_env(**env),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return _wait_healthy(ServerProcess(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path), "daphne")


def _wait_healthy(server: ServerProcess, name: str) -> ServerProcess:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited: {server.log()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer within 30 s: {server.log()[-2000:]}")


def start_uvicorn(log_dir: Path, *, workers: int, **env: str) -> ServerProcess:
    """uvicorn as `make run` starts it: `workers` processes on one port, restarted when one dies."""
    from contactcenter.run import asgi_command

    port = free_port()
    log_path = log_dir / f"uvicorn-{port}.log"
    environment = process_env(CC_ASGI_SERVER="uvicorn", CC_ASGI_WORKERS=str(workers), **env)
    _, command = asgi_command("127.0.0.1", port, environment)
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=environment, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    return _wait_healthy(ServerProcess(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path), "uvicorn")


class RedisServer:
    """A Redis of the test's own, so that it can be stopped and started again."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {self.log_path.read_text(errors='replace')[-2000:]}")

    def crash(self) -> None:
        """kill -9: the data and every connection go, as when the host or the process dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.crash()


def start_celery_worker(log_dir: Path, *, prefork: bool = False, **env: str) -> ServerProcess:
    """A Celery worker on the test database: solo (one process), or prefork with one child, as
    `make run` runs it, where the main process notices a child that dies mid-task."""
    log_path = log_dir / f"celery-worker-{free_port()}.log"
    pool = ["--pool", "prefork", "--concurrency", "1"] if prefork else ["--pool", "solo"]
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "contactcenter", "worker", "-l", "INFO", *pool, "--without-mingle",
         "--without-gossip", "-n", f"test-{os.getpid()}-{free_port()}@%h"],
        cwd=BASE_DIR,
        env=process_env(**env),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = ServerProcess(process=process, url="", log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited: {server.log()[-2000:]}")
        if " ready." in server.log():
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"celery worker not ready within 30 s: {server.log()[-2000:]}")


def tasks_succeeded(worker: ServerProcess, task: str) -> int:
    """How many runs of `task` the worker's log reports as succeeded."""
    return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", worker.log()))


def wait_for(condition, within: float, what: str):
    """`condition()`'s first true result, asked every 50 ms for `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {within} s")


def start_media_worker(log_dir: Path, **env: str) -> ServerProcess:
    """The media process as `make run` starts it (manage.py media_worker)."""
    log_path = log_dir / f"media-worker-{free_port()}.log"
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "media_worker"],
        cwd=BASE_DIR,
        env=process_env(**env),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = ServerProcess(process=process, url="", log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"media worker exited: {server.log()[-2000:]}")
        if "the media process is ready" in server.log():
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"media worker not ready within 30 s: {server.log()[-2000:]}")
