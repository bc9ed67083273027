"""Liveness and readiness: `/healthz` says the process answers; `/readyz` checks every
dependency a request may need (PostgreSQL, Redis, the channel layer, a Celery worker)."""

from __future__ import annotations

import asyncio
import time
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .redis_client import get_redis, key

CHECK_TIMEOUT_SECONDS = 3.0


def record_worker_heartbeat(hostname: str) -> None:
    get_redis().zadd(key("celery", "heartbeats"), {hostname: time.time()})


def workers_seen(max_age_seconds: float) -> list[str]:
    now = time.time()
    client = get_redis()
    client.zremrangebyscore(key("celery", "heartbeats"), 0, now - 24 * 3600)
    return [name.decode() for name in client.zrangebyscore(key("celery", "heartbeats"), now - max_age_seconds, "+inf")]


def _check_postgresql() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    connection.close()  # a health probe must not keep a connection per worker thread
    return "ok"


def _check_redis() -> str:
    get_redis().ping()
    return "ok"


def _check_celery() -> str:
    workers = workers_seen(settings.CC_WORKER_STALE_SECONDS)
    if not workers:
        raise RuntimeError(f"no Celery worker heartbeat in the last {settings.CC_WORKER_STALE_SECONDS} s")
    return f"{len(workers)} worker(s)"


async def _check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    try:
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
    finally:
        await _forget_channel(layer, channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")
    return "ok"


async def _forget_channel(layer, channel: str) -> None:
    # The pub/sub layer unsubscribes a channel only when its receive() is cancelled; a probe
    # made every few seconds must not leave one subscription behind per call.
    loop_layer = getattr(layer, "_get_layer", None)
    if loop_layer is None:
        return
    loop_layer = loop_layer()
    if loop_layer.channels.pop(channel, None) is not None:
        await loop_layer._get_shard(channel).unsubscribe(channel)


async def _timed(name: str, check) -> tuple[str, dict]:
    started = time.perf_counter()
    try:
        coroutine = check() if asyncio.iscoroutinefunction(check) else sync_to_async(check, thread_sensitive=False)()
        detail = await asyncio.wait_for(coroutine, CHECK_TIMEOUT_SECONDS)
        result = {"ok": True, "detail": detail}
    except TimeoutError:
        result = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"}
    except Exception as error:  # noqa: BLE001 - a probe reports every failure as a reason
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return name, result


async def readiness() -> dict:
    # Redis-backed checks first, so an unreachable Redis is reported as itself.
    results = await asyncio.gather(
        _timed("postgresql", _check_postgresql),
        _timed("redis", _check_redis),
        _timed("channel_layer", _check_channel_layer),
        _timed("celery", _check_celery),
    )
    checks = dict(results)
    failing = [f"{name}: {result['error']}" for name, result in checks.items() if not result["ok"]]
    return {"status": "ok" if not failing else "unavailable", "reason": "; ".join(failing), "checks": checks}


async def healthz(request):
    return JsonResponse({"status": "ok"})


async def readyz(request):
    report = await readiness()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
