"""Reads of the routing domain that pages, the API and reports share."""

from __future__ import annotations

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


def candidate(agent: AgentProfile, *, held: dict[str, int] | None = None) -> rules.Candidate:
    """The agent's capacity, holdings and channel blocking as the rules see them; holdings are
    the row's counters (kept by the database) unless the caller counted them itself."""
    if held is None:
        held = {rules.CHATS: agent.chats_held, rules.CALLS: agent.calls_held}
    return rules.Candidate(
        id=agent.pk,
        capacity={rules.CHATS: agent.chat_capacity, rules.CALLS: agent.call_capacity},
        held=dict(held),
        blocks=rules.agent_blocks(calls_block_chats=agent.calls_block_chats, chats_block_calls=agent.chats_block_calls),
        last_assigned_at=agent.last_assigned_at,
    )


def candidates(agents) -> dict[int, rules.Candidate]:
    return {agent.pk: candidate(agent) for agent in agents}


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
