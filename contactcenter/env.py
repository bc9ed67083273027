"""Typed readers of environment variables that fail loudly on a bad value.

Every setting comes from the environment through these helpers; a bad value stops start-up
with one clear line naming the variable, never a traceback deep inside Django.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigurationError(Exception):
    """A setting has a bad value; the message names the variable and what it expects."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ConfigurationError(f"{name} is not set")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}={value!r} is not a boolean; use true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_time_zone(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"{name}={value!r} is not a known time zone (e.g. Europe/Helsinki)") from None
    return value


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ConfigurationError(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def parse_database_url(name: str, url: str) -> dict:
    """PostgreSQL URL to a Django DATABASES entry.

    Accepts postgres:// and postgresql://, with the host in the netloc or, for a unix socket,
    in a `host=` query parameter (the form embedded PostgreSQL gives).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigurationError(
            f"{name} must be a postgresql:// URL, e.g. postgresql://user:password@host:5432/dbname"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = unquote(parts.hostname or "") or query.pop("host", "")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ConfigurationError(f"{name} has no database name (the path after the host)")
    if not host:
        raise ConfigurationError(f"{name} has no host (netloc or ?host=/socket/dir)")
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{name} has a bad port") from None
    options = {key: value for key, value in query.items() if key in ("sslmode", "sslrootcert", "application_name")}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": options,
    }


@dataclass(frozen=True)
class RedisAddress:
    url: str


def parse_redis_url(name: str, url: str) -> RedisAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigurationError(f"{name} must be a redis:// URL, e.g. redis://127.0.0.1:6379/0")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ConfigurationError(f"{name} has a bad port") from None
    return RedisAddress(url=url)


def redis_url_with_db(url: str, db: int) -> str:
    """The same server with another logical database, so Celery and channels do not mix keys."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{db}").geturl()
