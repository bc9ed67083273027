"""Reads of the routing domain that pages, the API and reports share."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from . import rules
from .models import AgentProfile, Queue


def is_supervisor(user) -> bool:
    """Supervisors (and superusers, who hold every permission) see every queue and agent."""
    return user.has_perm("routing.supervise")


def can_serve(user) -> bool:
    return user.has_perm("routing.serve_customers")


def serves_or_supervises(user) -> bool:
    """Who works in the contact center: the reports page and the API's queues, skills, agents
    and reports let them in; anyone else signed in is refused."""
    return is_supervisor(user) or can_serve(user)


def agent_queues(*, user) -> QuerySet[Queue]:
    """Queues an agent belongs to; supervisors and admins see every queue."""
    if is_supervisor(user):
        return Queue.objects.filter(is_active=True)
    return Queue.objects.filter(is_active=True, memberships__agent__user=user).distinct()


def held_by_group(*, agent_ids) -> dict[int, dict[str, int]]:
    """How much work (offered or assigned) each agent holds now, per capacity group.

    The ids go as one array parameter: the router asks this for every ready agent of its
    queues, and a thousand-placeholder IN list costs more to build than the query to run."""
    held: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT agent_id, channel, count(*) FROM routing_workitem "
            "WHERE agent_id = ANY(%s) AND state IN ('offered', 'assigned') GROUP BY agent_id, channel",
            [list(agent_ids)],
        )
        rows = cursor.fetchall()
    for agent_id, channel, count in rows:
        group = rules.capacity_group(channel)
        slots = held.setdefault(agent_id, {})
        slots[group] = slots.get(group, 0) + count
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


def queue_for(*, user, queue_id: int) -> Queue:
    """Fetch and authorise together: one of `agent_queues`. Queue.DoesNotExist otherwise."""
    return agent_queues(user=user).get(pk=queue_id)


def agents_for(*, user) -> QuerySet[AgentProfile]:
    """Supervisors (and admins) see every agent; an agent sees only themselves."""
    agents = AgentProfile.objects.select_related("user")
    if is_supervisor(user):
        return agents
    return agents.filter(user=user)


def agent_for(*, user, agent_id: int) -> AgentProfile:
    """Fetch and authorise together: one of `agents_for`. AgentProfile.DoesNotExist otherwise."""
    return agents_for(user=user).get(pk=agent_id)
