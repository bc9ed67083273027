"""One Redis client per process for the app's own keys (heartbeats, rate limits, presence)."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: str) -> str:
    """A key under this deployment's prefix, so several installations can share one Redis."""
    return ":".join((settings.CHANNEL_PREFIX, *parts))
