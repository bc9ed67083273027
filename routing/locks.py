"""Every row lock the router takes, in one place (see STYLE.md, item 5).

Lock order, always: work items before agents. Short transactions only.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AgentProfile, WorkItem


def waiting_items_of_queue(*, queue_id: int, limit: int) -> list[WorkItem]:
    """The queue's next waiting items that no other router holds, oldest (and most urgent) first."""
    return list(
        WorkItem.objects.filter(queue_id=queue_id, state=WorkItem.State.WAITING)
        .order_by("-priority", "enqueued_at")
        .select_for_update(skip_locked=True)[:limit]
    )


def ready_agents_of_queue(*, queue_id: int) -> QuerySet[AgentProfile]:
    """Ready agents logged on to the queue, locked; agents another router holds are skipped."""
    return (
        AgentProfile.objects.filter(
            presence=AgentProfile.Presence.READY,
            memberships__queue_id=queue_id,
            memberships__logged_on=True,
            user__is_active=True,
        )
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
    )


def agent(*, agent_id: int) -> AgentProfile:
    """One agent, waiting for the lock: serialises the agent's capacity checks."""
    return AgentProfile.objects.select_for_update(of=("self",)).select_related("user").get(pk=agent_id)


def work_item(*, item_id) -> WorkItem:
    return WorkItem.objects.select_for_update(of=("self",)).get(pk=item_id)
