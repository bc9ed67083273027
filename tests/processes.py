"""Real server processes for tests: daphne and Celery workers on the test database."""

from __future__ import annotations

import os
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
    server = ServerProcess(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited: {server.log()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"daphne did not answer within 30 s: {server.log()[-2000:]}")


def start_celery_worker(log_dir: Path, **env: str) -> ServerProcess:
    log_path = log_dir / "celery-worker.log"
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "contactcenter", "worker", "-l", "INFO", "--pool", "solo", "--without-mingle",
         "--without-gossip", "-n", f"test-{os.getpid()}@%h"],
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
