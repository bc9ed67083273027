"""Chat's side of routing: what happens to a conversation when the router acts on its work item."""

from __future__ import annotations

import threading

from django.db import transaction

from contactcenter.realtime import publish_now, publish_on_commit
from routing.models import AgentProfile, Queue, WorkItem

from . import selectors, services
from .frames import conversation_summary
from .models import Conversation

_pending = threading.local()


def offer_frame(item: WorkItem, conversation: Conversation) -> dict:
    summary = conversation_summary(conversation)
    summary.update(
        type="offer",
        expires_at=item.offer_expires_at.isoformat() if item.offer_expires_at else None,
        waiting_since=item.enqueued_at.isoformat(),
    )
    return summary


class ChatWorkItemHandler:
    def offered(self, *, item: WorkItem, agent: AgentProfile) -> None:
        conversation = Conversation.objects.select_related("queue", "contact").get(pk=item.reference)
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=offer_frame(item, conversation))

    def offer_withdrawn(self, *, item: WorkItem, agent: AgentProfile, reason: str) -> None:
        frame = {"type": "offer_withdrawn", "conversation_id": item.reference, "reason": reason}
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=frame)

    def assigned(self, *, item: WorkItem, agent: AgentProfile) -> None:
        conversation = services.agent_join(conversation_id=item.reference, agent=agent)
        frame = conversation_summary(conversation)
        frame["type"] = "assigned"
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=frame)

    def waiting_changed(self, *, queue_id: int) -> None:
        # Many changes in one transaction notify once, after commit.
        pending = getattr(_pending, "queues", None)
        if pending is None:
            pending = _pending.queues = set()
        if queue_id in pending:
            return
        pending.add(queue_id)

        def notify() -> None:
            pending.discard(queue_id)
            publish_waiting(queue_id=queue_id)

        transaction.on_commit(notify, robust=True)


def publish_waiting(*, queue_id: int) -> None:
    """Tell agents watching the queue its waiting list, and each waiting customer their place."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return
    update = selectors.queue_update_frame(queue=queue)
    publish_now(groups=[f"queue.{queue_id}"], event=update)
    estimate = selectors.WaitEstimate(queue=queue)
    for waiting in update["waiting"]:
        frame = selectors.queue_frame(position=waiting["position"], estimate=estimate)
        publish_now(groups=[services.conv_group(waiting["conversation_id"])], event=frame)
