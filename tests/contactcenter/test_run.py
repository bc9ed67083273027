"""The runner's choice of ASGI server (CC_ASGI_SERVER, CC_ASGI_WORKERS)."""

import os

import pytest

from contactcenter.run import asgi_command


def test_uvicorn_by_default_with_a_worker_per_core_up_to_four(monkeypatch):
    monkeypatch.delenv("CC_ASGI_SERVER", raising=False)
    monkeypatch.delenv("CC_ASGI_WORKERS", raising=False)
    name, command = asgi_command("127.0.0.1", 8123)
    assert command[command.index("--workers") + 1] == str(min(os.cpu_count() or 1, 4))


def test_uvicorn_with_several_workers_on_one_port(monkeypatch):
    monkeypatch.delenv("CC_ASGI_SERVER", raising=False)
    monkeypatch.setenv("CC_ASGI_WORKERS", "2")
    name, command = asgi_command("127.0.0.1", 8123)
    assert name == "uvicorn"
    assert command[command.index("--workers") + 1] == "2"
    assert command[command.index("--port") + 1] == "8123"


def test_daphne_stays_supported_as_one_process(monkeypatch):
    monkeypatch.setenv("CC_ASGI_SERVER", "daphne")
    monkeypatch.delenv("CC_ASGI_WORKERS", raising=False)
    name, command = asgi_command("127.0.0.1", 8123)
    assert name == "daphne"
    assert command[-1] == "contactcenter.asgi:application"


@pytest.mark.parametrize(
    ("server", "workers", "complaint"),
    [
        ("gunicorn", "1", "choose one of uvicorn, daphne"),
        ("uvicorn", "0", "from 1 to 64"),
        ("uvicorn", "two", "from 1 to 64"),
        ("daphne", "2", "daphne runs one process"),
    ],
)
def test_a_wrong_setting_is_refused_with_what_to_do(monkeypatch, server, workers, complaint):
    monkeypatch.setenv("CC_ASGI_SERVER", server)
    monkeypatch.setenv("CC_ASGI_WORKERS", workers)
    with pytest.raises(ValueError, match=complaint):
        asgi_command("127.0.0.1", 8123)
