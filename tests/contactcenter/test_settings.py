"""Settings come from the environment and a bad value stops start-up with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contactcenter.env import ConfigurationError, env_bool, parse_database_url, parse_redis_url

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "CC_DEMO_MODE": "false",
    "DEBUG": "false",
    "SECRET_KEY": "x7#kq2!vN9pL0zR4tY6uW8eA1sD3fG5hJ7kL9zX2cV4bN6mQ8wE0rT2yU4iO6pA8sD0f",
    "ALLOWED_HOSTS": "chat.example.fi",
    "CSRF_TRUSTED_ORIGINS": "https://chat.example.fi",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "configuration error: DEBUG='maybe' is not a boolean; use true or false"),
        ("DATABASE_URL", "mysql://db/app", "configuration error: DATABASE_URL must be a postgresql:// URL"),
        ("DATABASE_URL", "postgresql://host:notaport/app", "configuration error: DATABASE_URL has a bad port"),
        ("REDIS_URL", "localhost:6379", "configuration error: REDIS_URL must be a redis:// URL"),
        ("TIME_ZONE", "Mars/Olympus", "configuration error: TIME_ZONE='Mars/Olympus' is not a known time zone"),
        ("LANGUAGE_CODE", "xx", "configuration error: LANGUAGE_CODE='xx' must be one of: en, fi, sv, nb, da, ru"),
        ("EMAIL_URL", "pigeon://loft", "configuration error: EMAIL_URL must be smtp://"),
        ("CC_GC_YOUNG_OBJECTS", "-1", "configuration error: CC_GC_YOUNG_OBJECTS=-1 must be at least 0"),
    ],
)
def test_bad_setting_stops_start_up_with_one_clear_line(variable, value, message):
    result = manage("check", **{variable: value})
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode == 2
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = manage("check", **{**PRODUCTION, "ALLOWED_HOSTS": ""})
    assert result.returncode == 2
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_database_url_with_a_unix_socket_host():
    config = parse_database_url("DATABASE_URL", "postgresql://postgres:@/contactcenter?host=/srv/pg")
    assert (config["HOST"], config["NAME"], config["USER"]) == ("/srv/pg", "contactcenter", "postgres")


def test_database_url_with_credentials_and_port():
    config = parse_database_url("DATABASE_URL", "postgres://cc:s%40cret@db.internal:6543/cc?sslmode=require")
    assert config["PASSWORD"] == "s@cret"
    assert (config["HOST"], config["PORT"], config["OPTIONS"]) == ("db.internal", "6543", {"sslmode": "require"})


def test_database_url_without_a_database_name_is_refused():
    with pytest.raises(ConfigurationError, match="no database name"):
        parse_database_url("DATABASE_URL", "postgresql://db.internal:5432")


def test_redis_url_is_validated():
    assert parse_redis_url("REDIS_URL", "redis://127.0.0.1:6379/2").url == "redis://127.0.0.1:6379/2"
    with pytest.raises(ConfigurationError):
        parse_redis_url("REDIS_URL", "redis://")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("ON", True), ("0", False), ("no", False)])
def test_env_bool_accepts_the_usual_words(monkeypatch, raw, expected):
    monkeypatch.setenv("CC_FLAG", raw)
    assert env_bool("CC_FLAG", not expected) is expected


def test_a_bare_checkout_runs_commands_on_the_embedded_services_and_says_so():
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    environment.pop("CC_DEMO_MODE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "using the embedded services in demo mode" in result.stderr
    assert "System check identified no issues" in result.stdout


GC_OF_A_SERVER = "import gc, contactcenter.asgi; print(*gc.get_threshold(), gc.get_freeze_count() > 10000)"


@pytest.mark.parametrize(
    ("young", "expected"),
    [(None, "20000 20 10 True"), ("50000", "50000 20 10 True"), ("0", "700 10 10 False")],
)
def test_a_server_process_collects_young_objects_rarely_and_freezes_what_it_loaded(young, expected):
    """contactcenter/collector.py: what the ASGI application does to the collector when loaded."""
    environment = {key: value for key, value in os.environ.items() if key != "CC_GC_YOUNG_OBJECTS"}
    if young is not None:
        environment["CC_GC_YOUNG_OBJECTS"] = young
    command = [sys.executable, "-c", GC_OF_A_SERVER]
    result = subprocess.run(command, cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected
