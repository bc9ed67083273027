"""What the supervisor's live view shows (S1; docs/supervision.md).

The overview is computed in a fixed handful of queries however many agents and queues there
are: figures are aggregated in SQL per queue and per agent, never fetched agent by agent.
"""

from __future__ import annotations

import datetime

from django.db.models import Count, DateTimeField, F, Func, Min, Q, Value
from django.utils import timezone

from chat.models import Conversation, Participant
from routing import rules
from routing.models import AgentProfile, Queue, QueueMembership, WorkItem

# The start of the day in the queue's own time zone is never longer ago than this (a day,
# 25 hours when clocks go back): rows enqueued before it are no one's "today".
TODAY_AT_MOST = datetime.timedelta(hours=26)
WAITING_STATES = (WorkItem.State.WAITING, WorkItem.State.OFFERED)


class LocalMidnight(Func):
    """The start of `now`'s day in the time zone named by `zone` (a column):
    PostgreSQL's date_trunc('day', now, zone)."""

    function = "date_trunc"
    output_field = DateTimeField()

    def __init__(self, now: datetime.datetime, zone):
        super().__init__(Value("day"), Value(now, output_field=DateTimeField()), zone)


def overview(*, now: datetime.datetime | None = None) -> dict:
    """Every active queue's figures and every active agent's state, as the `overview` frame."""
    now = now or timezone.now()
    queues = list(
        Queue.objects.filter(is_active=True)
        .order_by("name")
        .values("id", "name", "time_zone", "service_level_target_seconds")
    )
    queue_ids = [queue["id"] for queue in queues]
    work = _queue_live(queue_ids=queue_ids)
    for queue_id, figures in _queue_today(now=now, queue_ids=queue_ids).items():
        work.setdefault(queue_id, {}).update(figures)
    staffing = _queue_staffing(queue_ids=queue_ids)
    return {
        "type": "overview",
        "now": now.isoformat(),
        "queues": [
            _queue_row(queue, work=work.get(queue["id"], {}), staffing=staffing.get(queue["id"], {}), now=now)
            for queue in queues
        ],
        "agents": _agents(queue_ids=set(queue_ids)),
    }


def _queue_live(*, queue_ids: list[int]) -> dict[int, dict]:
    """One query: work waiting, offered and assigned now per queue, and since when the
    oldest has waited (offered work still waits until it is accepted)."""
    rows = (
        WorkItem.objects.filter(queue_id__in=queue_ids, state__in=WorkItem.ACTIVE_STATES)
        .values("queue_id")
        .annotate(
            waiting=Count("pk", filter=Q(state=WorkItem.State.WAITING)),
            offered=Count("pk", filter=Q(state=WorkItem.State.OFFERED)),
            ongoing=Count("pk", filter=Q(state=WorkItem.State.ASSIGNED)),
            oldest=Min("enqueued_at", filter=Q(state__in=WAITING_STATES)),
        )
    )
    return {row.pop("queue_id"): row for row in rows}


def _queue_today(*, now: datetime.datetime, queue_ids: list[int]) -> dict[int, dict]:
    """One query: today's outcomes per queue.

    Today is from midnight in the queue's time zone, by when the work joined the line. Of
    today's work, the outcome is known for work answered (an agent took it), abandoned (it
    ended before one did), and work still waiting past the queue's target (it cannot be
    answered within it any more); that is what the service level counts.
    """
    target = F("queue__service_level_target_seconds") * datetime.timedelta(seconds=1)
    answered = Q(assigned_at__isnull=False)
    rows = (
        # Every state named, so the (queue, state, enqueued_at) index finds the last day's
        # rows; the queue's own midnight then picks today's.
        WorkItem.objects.filter(
            queue_id__in=queue_ids, state__in=WorkItem.State.values, enqueued_at__gte=now - TODAY_AT_MOST
        )
        .filter(enqueued_at__gte=LocalMidnight(now, F("queue__time_zone")))
        .values("queue_id")
        .annotate(
            answered_today=Count("pk", filter=answered),
            within_target_today=Count("pk", filter=answered & Q(assigned_at__lte=F("enqueued_at") + target)),
            abandoned_today=Count("pk", filter=Q(state=WorkItem.State.ABANDONED, assigned_at__isnull=True)),
            late_today=Count(
                "pk",
                filter=Q(state__in=WAITING_STATES, assigned_at__isnull=True, enqueued_at__lt=Value(now) - target),
            ),
        )
    )
    return {row.pop("queue_id"): row for row in rows}


def _queue_staffing(*, queue_ids: list[int]) -> dict[int, dict]:
    """One query: agents present (not offline) and logged on per queue, how many of them are
    ready, and how many hold work (offered or assigned, on any queue)."""
    holding = WorkItem.objects.filter(state__in=WorkItem.HOLDING_STATES, agent__isnull=False).values("agent_id")
    rows = (
        QueueMembership.objects.filter(queue_id__in=queue_ids, logged_on=True, agent__user__is_active=True)
        .exclude(agent__presence=AgentProfile.Presence.OFFLINE)
        .values("queue_id")
        .annotate(
            logged_on=Count("pk"),
            ready=Count("pk", filter=Q(agent__presence=AgentProfile.Presence.READY)),
            busy=Count("pk", filter=Q(agent_id__in=holding)),
        )
    )
    return {row.pop("queue_id"): row for row in rows}


def _queue_row(queue: dict, *, work: dict, staffing: dict, now: datetime.datetime) -> dict:
    oldest = work.get("oldest")
    answered, within = work.get("answered_today", 0), work.get("within_target_today", 0)
    abandoned, late = work.get("abandoned_today", 0), work.get("late_today", 0)
    counted = answered + abandoned + late
    return {
        "id": queue["id"],
        "name": queue["name"],
        "time_zone": queue["time_zone"],
        "waiting": work.get("waiting", 0),
        "offered": work.get("offered", 0),
        "ongoing": work.get("ongoing", 0),
        "oldest_since": oldest.isoformat() if oldest else None,
        "longest_wait_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0,
        "agents_logged_on": staffing.get("logged_on", 0),
        "agents_ready": staffing.get("ready", 0),
        "agents_busy": staffing.get("busy", 0),
        "service_level_target_seconds": queue["service_level_target_seconds"],
        "service_level_today": round(within / counted, 4) if counted else None,
        "offered_today": counted,
        "answered_today": answered,
        "answered_within_target_today": within,
        "abandoned_today": abandoned,
    }


def _agents(*, queue_ids: set[int]) -> list[dict]:
    """Four queries: the agents, the work they hold, their queues, the chats they are in."""
    agents = list(
        AgentProfile.objects.filter(user__is_active=True)
        .order_by("user__first_name", "user__last_name", "user__username")
        .values(
            "id",
            "user_id",
            "user__username",
            "user__first_name",
            "user__last_name",
            "presence",
            "presence_reason",
            "presence_since",
            "chat_capacity",
            "call_capacity",
            "missed_offers",
        )
    )
    held: dict[int, dict[str, int]] = {}
    for row in (
        WorkItem.objects.filter(state__in=WorkItem.HOLDING_STATES, agent__isnull=False)
        .values("agent_id", "channel", "state")
        .annotate(n=Count("pk"))
    ):
        counts = held.setdefault(row["agent_id"], {rules.CHATS: 0, rules.CALLS: 0, "offers": 0})
        counts[rules.capacity_group(row["channel"])] += row["n"]
        if row["state"] == WorkItem.State.OFFERED:
            counts["offers"] += row["n"]
    memberships: dict[int, list[dict]] = {}
    for agent_id, queue_id, logged_on in (
        QueueMembership.objects.filter(queue_id__in=queue_ids)
        .order_by("queue__name")
        .values_list("agent_id", "queue_id", "logged_on")
    ):
        memberships.setdefault(agent_id, []).append({"id": queue_id, "logged_on": logged_on})
    chats: dict[int, list[dict]] = {}
    for row in (
        Participant.objects.filter(
            left_at__isnull=True, conversation__state__in=[Conversation.State.ACTIVE, Conversation.State.QUEUED]
        )
        .order_by("joined_at")
        .values(
            "agent_id",
            "role",
            "conversation_id",
            "conversation__queue_id",
            "conversation__contact__name",
            "conversation__created_at",
        )
    ):
        chats.setdefault(row["agent_id"], []).append(
            {
                "conversation_id": str(row["conversation_id"]),
                "role": row["role"],
                "queue_id": row["conversation__queue_id"],
                "customer": row["conversation__contact__name"],
                "started_at": row["conversation__created_at"].isoformat(),
            }
        )
    result = []
    for agent in agents:
        counts = held.get(agent["id"], {})
        full_name = f"{agent['user__first_name']} {agent['user__last_name']}".strip()
        result.append(
            {
                "id": agent["id"],
                "user_id": agent["user_id"],
                "name": full_name or agent["user__username"],
                "username": agent["user__username"],
                "presence": agent["presence"],
                "reason": agent["presence_reason"],
                "since": agent["presence_since"].isoformat(),
                "missed_offers": agent["missed_offers"],
                "chats": counts.get(rules.CHATS, 0),
                "calls": counts.get(rules.CALLS, 0),
                "offers": counts.get("offers", 0),
                "chat_capacity": agent["chat_capacity"],
                "call_capacity": agent["call_capacity"],
                "queues": memberships.get(agent["id"], []),
                "conversations": chats.get(agent["user_id"], []),
            }
        )
    return result
