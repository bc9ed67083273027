"""Emitting and delivering webhooks.

`emit` runs inside the caller's transaction and only writes delivery rows (an outbox); the
send is queued after commit, so a rolled-back change sends nothing. `deliver` claims a row
with a conditional update, so two workers never send one delivery at the same time.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
LEASE = datetime.timedelta(seconds=60)
MAX_ATTEMPTS = 8
ENDPOINT_CACHE_SECONDS = 5.0

_endpoints_cache: tuple[float, dict[str, list[int]]] | None = None


def _subscribed(event: str) -> list[int]:
    """Active endpoints by event, re-read every few seconds: `emit` runs for every message,
    and a center without webhooks must not pay a query per message for them."""
    global _endpoints_cache
    now = time.monotonic()
    if _endpoints_cache is None or now - _endpoints_cache[0] > ENDPOINT_CACHE_SECONDS:
        by_event: dict[str, list[int]] = {}
        for endpoint_id, events in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"):
            for name in events:
                by_event.setdefault(name, []).append(endpoint_id)
        _endpoints_cache = (now, by_event)
    return _endpoints_cache[1].get(event, [])


def subscribed(event: str) -> bool:
    """Whether any active endpoint takes `event` (cached as `emit` caches it)."""
    return bool(_subscribed(event))


def subscribed_if_known(event: str) -> bool | None:
    """As `subscribed`, without reaching the database: None when the cache is stale (for
    code on an event loop, which must not query)."""
    if _endpoints_cache is None or time.monotonic() - _endpoints_cache[0] > ENDPOINT_CACHE_SECONDS:
        return None
    return bool(_endpoints_cache[1].get(event))


def forget_endpoints() -> None:
    global _endpoints_cache
    _endpoints_cache = None


def emit(event: str, data: dict) -> list[WebhookDelivery]:
    """Record `event` for every endpoint subscribed to it; sent after the caller commits."""
    endpoint_ids = _subscribed(event)
    if not endpoint_ids:
        return []
    now = timezone.now()
    payload = {"event": event, "occurred_at": now.isoformat(), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint_id=pk, event=event, payload=payload, next_attempt_at=now) for pk in endpoint_ids]
    )
    ids = [str(delivery.pk) for delivery in deliveries]

    def queue() -> None:
        from .tasks import deliver

        for delivery_id in ids:
            deliver.delay(delivery_id)

    transaction.on_commit(queue, robust=True)
    return deliveries


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _claim(delivery_id, now: datetime.datetime) -> bool:
    return (
        WebhookDelivery.objects.filter(
            pk=delivery_id, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + LEASE)
        == 1
    )


def deliver(*, delivery_id, now: datetime.datetime | None = None) -> str:
    """Send one due delivery once; returns its state afterwards (or 'skipped')."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = json.dumps({"id": str(delivery.pk), **delivery.payload}, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - an admin-configured http(s) URL
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "contact-center-webhooks/1",
            "X-CC-Event": delivery.event,
            "X-CC-Delivery": str(delivery.pk),
            "X-CC-Timestamp": timestamp,
            "X-CC-Signature": "v1=" + signature(delivery.endpoint.secret, timestamp, body),
        },
    )
    status, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as failure:
        status, error = failure.code, f"HTTP {failure.code}"
    except (urllib.error.URLError, OSError, ValueError) as failure:
        error = str(failure)[:500]
    attempts = delivery.attempts + 1
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.DELIVERED, attempts=F("attempts") + 1, last_status=status, last_error="",
            delivered_at=timezone.now(),
        )  # fmt: skip
        return WebhookDelivery.State.DELIVERED
    gave_up = attempts >= MAX_ATTEMPTS
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED if gave_up else WebhookDelivery.State.PENDING,
        attempts=F("attempts") + 1, last_status=status, last_error=error or f"HTTP {status}",
        next_attempt_at=now + backoff(attempts),
    )  # fmt: skip
    logger.warning("webhook %s to %s failed (%s), attempt %s", delivery.event, delivery.endpoint.url, error, attempts)
    return WebhookDelivery.State.FAILED if gave_up else WebhookDelivery.State.PENDING


def backoff(attempts: int) -> datetime.timedelta:
    """10 s, 20 s, 40 s … up to an hour between attempts."""
    return datetime.timedelta(seconds=min(3600, 10 * 2 ** (attempts - 1)))


def deliver_due(*, now: datetime.datetime | None = None, limit: int = 100) -> int:
    """Beat's safety net: send what is due (retries, and sends lost with a worker)."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
    return sum(
        deliver(delivery_id=pk, now=now) != "skipped"
        for pk in list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    )
