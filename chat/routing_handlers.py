"""Chat's side of routing: what happens to a conversation when the router acts on its work item."""

from __future__ import annotations

import logging
import threading
import uuid

from django.db import connection, transaction

from contactcenter.realtime import publish_many, publish_many_on_commit, publish_on_commit
from routing.models import AgentProfile, Queue, WorkItem

from . import selectors, services
from .frames import assigned_frame, conversation_summary
from .models import Conversation

logger = logging.getLogger(__name__)


def offer_frame(item: WorkItem, conversation: Conversation) -> dict:
    summary = conversation_summary(conversation)
    summary.update(
        type="offer",
        expires_at=item.offer_expires_at.isoformat() if item.offer_expires_at else None,
        waiting_since=item.enqueued_at.isoformat(),
    )
    return summary


class ChatWorkItemHandler:
    def offered(self, *, offers: list[tuple[WorkItem, AgentProfile]]) -> None:
        conversations = Conversation.objects.select_related("queue", "contact").in_bulk(
            [item.reference for item, _ in offers]
        )
        publish_many_on_commit(
            [
                (f"agent.{agent.user_id}", offer_frame(item, conversations[uuid.UUID(item.reference)]))
                for item, agent in offers
            ]
        )

    def offer_withdrawn(self, *, item: WorkItem, agent: AgentProfile, reason: str) -> None:
        frame = {"type": "offer_withdrawn", "conversation_id": item.reference, "reason": reason}
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=frame)

    def assigned(self, *, item: WorkItem, agent: AgentProfile) -> None:
        conversation = services.agent_join(conversation_id=item.reference, agent=agent)
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=assigned_frame(conversation))

    def waiting_changed(self, *, queue_id: int) -> None:
        transaction.on_commit(lambda: schedule_publish_waiting(queue_id=queue_id), robust=True)


# Waiting lists change with every start, offer and answer; at a thousand waiting chats,
# publishing each change would be a million frames. Changes within WAITING_DEBOUNCE_SECONDS
# are published once, per queue and process. At 0.3 s, with 625 agents watching one queue,
# the benchmark's set-up stalled after 1,600-1,800 chats; at 1 s it got to 3,375
# (docs/performance.md).
WAITING_DEBOUNCE_SECONDS = 1.0
# Customers past this place get their position when they reach it (or on reconnect).
POSITION_UPDATES_FOR_FIRST = 200
_timers: dict[int, threading.Timer] = {}
_timers_lock = threading.Lock()


def schedule_publish_waiting(*, queue_id: int) -> None:
    with _timers_lock:
        if queue_id in _timers:
            return
        timer = threading.Timer(WAITING_DEBOUNCE_SECONDS, _publish_waiting_later, kwargs={"queue_id": queue_id})
        timer.daemon = True
        _timers[queue_id] = timer
    timer.start()


def _publish_waiting_later(*, queue_id: int) -> None:
    with _timers_lock:
        _timers.pop(queue_id, None)
    try:
        publish_waiting(queue_id=queue_id)
    except Exception:
        logger.exception("publishing the waiting list of queue %s failed", queue_id)
    finally:
        connection.close()


def publish_waiting(*, queue_id: int) -> None:
    """Tell agents watching the queue its waiting list, and waiting customers their place."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return
    update = selectors.queue_update_frame(queue=queue)
    estimate = selectors.WaitEstimate(queue=queue)
    in_line = selectors.waiting_conversations(queue_id=queue_id, limit=POSITION_UPDATES_FOR_FIRST)
    frames = [
        (services.conv_group(conversation.pk), selectors.queue_frame(position=position, estimate=estimate))
        for position, conversation in enumerate(in_line, start=1)
    ]
    publish_many([*frames, (f"queue.{queue_id}", update)])
