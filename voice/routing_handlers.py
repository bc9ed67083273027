"""Voice's side of routing: offers of calls to agents, and what an assignment means for a call."""

from __future__ import annotations

import uuid

from contactcenter.realtime import publish_many_on_commit, publish_on_commit
from routing.models import AgentProfile, WorkItem

from . import services
from .models import Call


def offer_frame(item: WorkItem, call: Call) -> dict:
    frame = services.agent_call_frame(call, "call_offer")
    frame.update(
        expires_at=item.offer_expires_at.isoformat() if item.offer_expires_at else None,
        waiting_since=item.enqueued_at.isoformat(),
    )
    return frame


class VoiceWorkItemHandler:
    def offered(self, *, offers: list[tuple[WorkItem, AgentProfile]]) -> None:
        calls = Call.objects.select_related("queue").in_bulk([uuid.UUID(item.reference) for item, _ in offers])
        publish_many_on_commit(
            [(f"agent.{agent.user_id}", offer_frame(item, calls[uuid.UUID(item.reference)])) for item, agent in offers]
        )

    def offer_withdrawn(self, *, item: WorkItem, agent: AgentProfile, reason: str) -> None:
        frame = {"type": "call_offer_withdrawn", "call_id": item.reference, "reason": reason}
        publish_on_commit(groups=[f"agent.{agent.user_id}"], event=frame)

    def assigned(self, *, item: WorkItem, agent: AgentProfile) -> None:
        services.call_assigned(item=item, agent=agent)

    def waiting_changed(self, *, queue_id: int) -> None:
        pass  # callers hear the queue; their place is not announced yet
