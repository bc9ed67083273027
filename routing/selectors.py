"""Reads of the routing domain that pages, the API and reports share."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Queue, WorkItem


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


def held_counts(*, agent_ids) -> dict[int, int]:
    """How many work items (offered or assigned) each agent holds now."""
    rows = (
        WorkItem.objects.filter(agent_id__in=list(agent_ids), state__in=WorkItem.HOLDING_STATES)
        .values("agent_id")
        .annotate(n=Count("pk"))
    )
    return {row["agent_id"]: row["n"] for row in rows}
