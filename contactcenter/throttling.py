"""Rate limits counted atomically in Redis: per visitor address for customers and logins,
per token (or signed-in user) for the API.

One Lua script increments a window counter and sets its expiry in a single step, so
concurrent requests on several processes can never all slip under the limit, and a limit
holds across every server that shares the Redis.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from .redis_client import get_redis
from .redis_client import key as redis_key

_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""
_script = None

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
PERIODS |= {"d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/minute' → (120, 60)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


def hit(*, scope: str, ident: str, limit: int, seconds: int) -> tuple[bool, float]:
    """Count one request; (allowed, seconds until the window ends)."""
    global _script
    if _script is None:
        _script = get_redis().register_script(_COUNT)
    count, ttl_ms = _script(keys=[redis_key("rate", scope, ident)], args=[seconds * 1000])
    return int(count) <= limit, max(0.0, int(ttl_ms) / 1000)


class RedisRateThrottle(BaseThrottle):
    """A DRF throttle over `hit`; `scope` names the rate in REST_FRAMEWORK's rates."""

    scope = ""
    wait_seconds: float | None = None

    def ident_for(self, request) -> str:
        return self.address(request)

    def address(self, request) -> str:
        # No address at all (a bare WSGI call, a misconfigured proxy): one shared bucket.
        return self.get_ident(request) or "unknown"

    def allow_request(self, request, view) -> bool:
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        if not rate:
            return True
        limit, seconds = parse_rate(rate)
        allowed, wait = hit(scope=self.scope, ident=self.ident_for(request), limit=limit, seconds=seconds)
        self.wait_seconds = None if allowed else wait
        return allowed

    def wait(self) -> float | None:
        return self.wait_seconds


class VisitorThrottle(RedisRateThrottle):
    """Per client address: chats started, offline messages, token refreshes."""

    scope = "customer"


class LoginThrottle(RedisRateThrottle):
    scope = "login"


class ApiThrottle(RedisRateThrottle):
    """Per API token (or signed-in user); anonymous callers by address."""

    scope = "api"

    def ident_for(self, request) -> str:
        auth = request.auth
        if auth is not None and hasattr(auth, "key"):
            return "token:" + hashlib.sha256(auth.key.encode()).hexdigest()[:32]
        if request.user is not None and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return "addr:" + self.address(request)
