"""Reads of the routing domain that pages, the API and reports share."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from . import rules
from .models import AgentProfile, Queue, WorkItem


def is_supervisor(user) -> bool:
    """Supervisors (and superusers, who hold every permission) see every queue and agent."""
    return user.has_perm("routing.supervise")


def can_serve(user) -> bool:
    return user.has_perm("routing.serve_customers")


def agent_queues(*, user) -> QuerySet[Queue]:
    """Queues an agent belongs to; supervisors and admins see every queue."""
    if is_supervisor(user):
        return Queue.objects.filter(is_active=True)
    return Queue.objects.filter(is_active=True, memberships__agent__user=user).distinct()


def held_by_group(*, agent_ids) -> dict[int, dict[str, int]]:
    """How much work (offered or assigned) each agent holds now, per capacity group."""
    held: dict[int, dict[str, int]] = {}
    rows = (
        WorkItem.objects.filter(agent_id__in=list(agent_ids), state__in=WorkItem.HOLDING_STATES)
        .values("agent_id", "channel")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        group = rules.capacity_group(row["channel"])
        slots = held.setdefault(row["agent_id"], {})
        slots[group] = slots.get(group, 0) + row["n"]
    return held


def candidate(agent: AgentProfile, *, held: dict[str, int] | None = None) -> rules.Candidate:
    """The agent's capacity, holdings and channel blocking as the rules see them."""
    return rules.Candidate(
        id=agent.pk,
        capacity={rules.CHATS: agent.chat_capacity, rules.CALLS: agent.call_capacity},
        held=dict(held or {}),
        blocks=rules.agent_blocks(calls_block_chats=agent.calls_block_chats, chats_block_calls=agent.chats_block_calls),
        last_assigned_at=agent.last_assigned_at,
    )


def candidates(agents) -> dict[int, rules.Candidate]:
    agents = list(agents)
    held = held_by_group(agent_ids=[agent.pk for agent in agents])
    return {agent.pk: candidate(agent, held=held.get(agent.pk)) for agent in agents}
