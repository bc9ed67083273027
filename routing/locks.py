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

from . import rules
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
    chats_held: int
    calls_held: int

    def profile(self) -> AgentProfile:
        return AgentProfile(
            id=self.pk, user_id=self.user_id, chat_capacity=self.chat_capacity, call_capacity=self.call_capacity,
            calls_block_chats=self.calls_block_chats, chats_block_calls=self.chats_block_calls,
            last_assigned_at=self.last_assigned_at, missed_offers=self.missed_offers,
            presence=AgentProfile.Presence.READY, chats_held=self.chats_held, calls_held=self.calls_held,
        )  # fmt: skip


# Per capacity group: the membership priority, the held counter, the capacity, and the
# condition under which other work blocks the group (rules.agent_blocks).
_GROUP_SQL = {
    rules.CHATS: ("m.chat_priority", "a.chats_held", "a.chat_capacity", "a.calls_block_chats AND a.calls_held > 0"),
    rules.CALLS: ("m.call_priority", "a.calls_held", "a.call_capacity", "a.chats_block_calls AND a.chats_held > 0"),
}

_FREE_AGENTS = """
SELECT a.id, a.user_id, a.chat_capacity, a.call_capacity, a.calls_block_chats, a.chats_block_calls,
       a.last_assigned_at, a.missed_offers, a.chats_held, a.calls_held
FROM routing_agentprofile a
JOIN routing_queuemembership m ON m.agent_id = a.id AND m.queue_id = %(queue)s AND m.logged_on
JOIN auth_user u ON u.id = a.user_id
WHERE a.presence = 'ready' AND u.is_active AND {held} < {capacity} AND NOT ({blocked}) {skilled}
ORDER BY {priority}, {skill_score} {held}::float8 / {capacity}, a.last_assigned_at NULLS FIRST, a.id
LIMIT %(limit)s
FOR NO KEY UPDATE OF a SKIP LOCKED
"""
# Only for queues that require skills: per agent, every one at its level, and the sum of levels.
_SKILLED = """
  AND (SELECT count(*) FROM routing_agentskill s
       JOIN unnest(%(skills)s::bigint[], %(levels)s::int[]) r(skill, level)
         ON s.skill_id = r.skill AND s.level >= r.level
       WHERE s.agent_id = a.id) = cardinality(%(skills)s::bigint[])"""
_SKILL_SCORE = """-(SELECT coalesce(sum(s.level), 0) FROM routing_agentskill s
            WHERE s.agent_id = a.id AND s.skill_id = ANY(%(skills)s::bigint[])),"""
FREE_AGENTS_SQL = {
    (group, with_skills): _FREE_AGENTS.format(
        priority=priority,
        held=held,
        capacity=capacity,
        blocked=blocked,
        skilled=_SKILLED if with_skills else "",
        skill_score=_SKILL_SCORE if with_skills else "",
    )  # fmt: skip
    for group, (priority, held, capacity, blocked) in _GROUP_SQL.items()
    for with_skills in (False, True)
}


def free_agents(*, queue_id: int, group: str, required: dict[int, int], limit: int) -> list[ReadyAgent]:
    """The `limit` best agents for a queue's work of one capacity group, by the rank of
    rules.agent_rank_key, who are ready, logged on to it, have a free slot, are not blocked
    and have the required skills; locked, skipping those another router holds.

    The router asks for as many as it has items, plus the agents the items refused: taking
    work only worsens an agent's rank, so the agent the rules would pick among all ready
    agents is always among these (docs/routing.md). A route reads tens of rows, not every
    ready agent."""
    skills = sorted(required)
    with connection.cursor() as cursor:
        cursor.execute(
            FREE_AGENTS_SQL[group, bool(skills)],
            {"queue": queue_id, "skills": skills, "levels": [required[s] for s in skills], "limit": limit},
        )
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
