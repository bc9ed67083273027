"""Reads of the routing domain that pages, the API and reports share."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Queue


def agent_queues(*, user) -> QuerySet[Queue]:
    """Queues an agent belongs to; supervisors and admins see every queue."""
    if user.has_perm("routing.supervise") or user.is_superuser:
        return Queue.objects.filter(is_active=True)
    return Queue.objects.filter(is_active=True, memberships__agent__user=user).distinct()
