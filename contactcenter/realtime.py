"""The one way services publish realtime events: after the transaction commits.

Events are plain JSON dicts with a `type`; the service names the recipient groups
(`conv.<id>`, `agent.<user id>`, `queue.<id>`, `supervisors`). Consumers receive them as
`{"type": "realtime.event", "event": {...}}`; the event is the wire frame they forward.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def publish_on_commit(*, groups: Iterable[str], event: dict) -> None:
    """Send `event` to every group once the surrounding transaction commits (at once if none)."""
    groups = list(groups)
    transaction.on_commit(lambda: publish_now(groups=groups, event=event), robust=True)


_captures: list[list[tuple[str, dict]]] = []


@contextlib.contextmanager
def capture() -> Iterator[list[tuple[str, dict]]]:
    """Record every (group, event) published inside the block, besides sending it (for tests)."""
    captured: list[tuple[str, dict]] = []
    _captures.append(captured)
    try:
        yield captured
    finally:
        _captures.remove(captured)


def publish_now(*, groups: Iterable[str], event: dict) -> None:
    layer = get_channel_layer()
    envelope = {"type": "realtime.event", "event": event}
    for group in groups:
        for captured in _captures:
            captured.append((group, event))
        try:
            async_to_sync(layer.group_send)(group, envelope)
        except Exception:
            # At-most-once by design: stored rows and resume-by-seq repair a lost publish.
            logger.exception("publish to %s failed", group)
