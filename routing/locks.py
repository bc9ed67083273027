"""Every row lock the router takes, in one place (see STYLE.md, item 5).

Lock order, always: work items before agents. Short transactions only. Locks are FOR NO KEY
UPDATE: a plain FOR UPDATE would also block the foreign-key checks of other transactions
inserting rows that point at the locked row (an event naming the agent), and the routing
stress test showed that deadlocking.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from django.db import connection
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


class ReadyAgent(NamedTuple):
    """What the router needs of a ready agent; the full row is built only for the chosen."""

    pk: int
    user_id: int
    chat_capacity: int
    call_capacity: int
    calls_block_chats: bool
    chats_block_calls: bool
    last_assigned_at: datetime.datetime | None
    missed_offers: int

    def profile(self) -> AgentProfile:
        return AgentProfile(
            id=self.pk, user_id=self.user_id, chat_capacity=self.chat_capacity, call_capacity=self.call_capacity,
            calls_block_chats=self.calls_block_chats, chats_block_calls=self.chats_block_calls,
            last_assigned_at=self.last_assigned_at, missed_offers=self.missed_offers,
            presence=AgentProfile.Presence.READY,
        )  # fmt: skip


_READY_AGENTS = """
SELECT a.id, a.user_id, a.chat_capacity, a.call_capacity, a.calls_block_chats, a.chats_block_calls,
       a.last_assigned_at, a.missed_offers
FROM routing_agentprofile a JOIN auth_user u ON u.id = a.user_id
WHERE a.presence = 'ready' AND u.is_active
  AND EXISTS (SELECT 1 FROM routing_queuemembership m
              WHERE m.agent_id = a.id AND m.logged_on AND m.queue_id = ANY(%s))
ORDER BY a.id
FOR NO KEY UPDATE OF a SKIP LOCKED
"""


def ready_agents(*, queue_ids: list[int]) -> list[ReadyAgent]:
    """Ready agents logged on to any of the queues, locked; those another router holds are
    skipped. Plain rows: a route sees every ready agent, and building a thousand model
    instances per route cost more than the query."""
    with connection.cursor() as cursor:
        cursor.execute(_READY_AGENTS, [list(queue_ids)])
        return [ReadyAgent(*row) for row in cursor.fetchall()]


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
