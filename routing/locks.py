"""Every row lock the router takes, in one place (see STYLE.md, item 5).

Lock order, always: work items before agents. Short transactions only. Locks are FOR NO KEY
UPDATE: a plain FOR UPDATE would also block the foreign-key checks of other transactions
inserting rows that point at the locked row (an event naming the agent), and the routing
stress test showed that deadlocking.
"""

from __future__ import annotations

from django.db.models.expressions import RawSQL

from .models import AgentProfile, WorkItem

# Time waited over the queue's service-level target: the first rule of docs/routing.md.
URGENCY = RawSQL(
    "EXTRACT(EPOCH FROM (now() - routing_workitem.enqueued_at)) "
    "/ GREATEST(routing_queue.service_level_target_seconds, 1)",
    [],
)


def waiting_items(*, queue_ids: list[int], limit: int) -> list[WorkItem]:
    """The most urgent waiting items of these queues that no other router holds."""
    return list(
        WorkItem.objects.filter(queue_id__in=queue_ids, state=WorkItem.State.WAITING)
        .select_related("queue")
        .annotate(urgency=URGENCY)
        .order_by("-urgency", "-queue__priority", "-priority", "enqueued_at")
        .select_for_update(skip_locked=True, of=("self",), no_key=True)[:limit]
    )


def ready_agents(*, queue_ids: list[int]) -> list[AgentProfile]:
    """Ready agents logged on to any of the queues, locked; those another router holds are skipped."""
    eligible = AgentProfile.objects.filter(
        presence=AgentProfile.Presence.READY,
        memberships__queue_id__in=queue_ids,
        memberships__logged_on=True,
        user__is_active=True,
    ).values("pk")
    return list(
        AgentProfile.objects.filter(pk__in=eligible)
        .select_for_update(skip_locked=True, of=("self",), no_key=True)
        .order_by("pk")
    )


def agent(*, agent_id: int) -> AgentProfile:
    """One agent, waiting for the lock: serialises the agent's capacity checks."""
    return AgentProfile.objects.select_for_update(of=("self",), no_key=True).select_related("user").get(pk=agent_id)


def work_item(*, item_id) -> WorkItem:
    return WorkItem.objects.select_for_update(of=("self",), no_key=True).get(pk=item_id)


def active_work_item_or_skip(*, channel: str, reference: str) -> WorkItem | None:
    """The channel record's active item, locked; None when another transaction holds it (the
    caller skips and comes back) or there is none. Beat sweeps use this before locking the
    channel's own row, keeping the order items first."""
    return (
        WorkItem.objects.filter(channel=channel, reference=reference, state__in=WorkItem.ACTIVE_STATES)
        .select_for_update(skip_locked=True, of=("self",), no_key=True)
        .first()
    )
