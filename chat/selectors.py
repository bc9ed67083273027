"""Reads shared by the consumers, pages and API: queue figures, replay, access checks."""

from __future__ import annotations

import datetime
import heapq
import math

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from routing.models import AgentProfile, Queue, WorkItem
from routing.selectors import agent_queues, is_supervisor

from .frames import conversation_summary, event_frame, message_frame
from .models import Conversation, ConversationEvent, Message, OfflineMessage, Participant

DEFAULT_HANDLE_SECONDS = 300
WAITING_STATES = (WorkItem.State.WAITING, WorkItem.State.OFFERED)


def ready_agents(*, queue: Queue):
    return AgentProfile.objects.filter(
        presence=AgentProfile.Presence.READY, memberships__queue=queue, memberships__logged_on=True
    )


def queue_snapshot(*, queue: Queue) -> dict:
    # The free-slot test of rules.Candidate.free for chats, on the database's held counters.
    has_free_chat_slot = Q(chats_held__lt=F("chat_capacity")) & ~Q(calls_block_chats=True, calls_held__gt=0)
    agents = ready_agents(queue=queue).aggregate(ready=Count("pk"), free=Count("pk", filter=has_free_chat_slot))
    waiting = WorkItem.objects.filter(queue=queue, state__in=WAITING_STATES).count()
    return {"agents_available": agents["free"], "queue_length": waiting, "agents_ready": agents["ready"]}


def queue_position(*, item: WorkItem) -> int:
    """1 for the next in line. Offered work still counts as waiting until accepted."""
    if item.state not in WAITING_STATES:
        return 0
    ahead = WorkItem.objects.filter(queue_id=item.queue_id, state__in=WAITING_STATES).filter(
        Q(priority__gt=item.priority) | Q(priority=item.priority, enqueued_at__lt=item.enqueued_at)
    )
    return ahead.count() + 1


DEPARTURE_WINDOW = datetime.timedelta(minutes=15)
MIN_DEPARTURES = 5


class WaitEstimate:
    """How long the customer at `position` will wait, in seconds (W4; docs/routing.md).

    Capacity view: position × mean handle time (last 8 hours) ÷ chat slots of ready agents.
    Flow view: position ÷ the rate at which work left this queue's line for an agent in the
    last 15 minutes (when at least 5 did). The larger of the two is given, since either
    alone is optimistic: slots may be busy with long chats, or the line may be moving slowly
    for reasons the capacity view does not see. None when nobody is ready.
    Built once per queue, then asked per position.
    """

    def __init__(self, *, queue: Queue):
        now = timezone.now()
        self.slots = ready_agents(queue=queue).aggregate(total=Sum("chat_capacity"))["total"] or 0
        handle = WorkItem.objects.filter(
            queue=queue,
            state=WorkItem.State.DONE,
            finished_at__gte=now - datetime.timedelta(hours=8),
            assigned_at__isnull=False,
        ).aggregate(mean=Avg(F("finished_at") - F("assigned_at")))["mean"]
        self.handle_seconds = handle.total_seconds() if handle else DEFAULT_HANDLE_SECONDS
        departures = WorkItem.objects.filter(queue=queue, assigned_at__gte=now - DEPARTURE_WINDOW).count()
        self.departures_per_second = (
            departures / DEPARTURE_WINDOW.total_seconds() if departures >= MIN_DEPARTURES else None
        )

    def seconds(self, position: int) -> int | None:
        if position <= 0:
            return 0
        if not self.slots:
            return None
        by_capacity = position * self.handle_seconds / self.slots
        by_flow = position / self.departures_per_second if self.departures_per_second else 0
        return int(math.ceil(max(by_capacity, by_flow)))


def estimated_wait_seconds(*, queue: Queue, position: int) -> int | None:
    return WaitEstimate(queue=queue).seconds(position)


def customer_queue_frame(*, conversation: Conversation) -> dict | None:
    item = WorkItem.objects.filter(
        channel=WorkItem.Channel.CHAT, reference=str(conversation.pk), state__in=WAITING_STATES
    ).first()
    if item is None:
        return None
    position = queue_position(item=item)
    return queue_frame(position=position, estimate=WaitEstimate(queue=conversation.queue))


def queue_frame(*, position: int, estimate: WaitEstimate) -> dict:
    return {"type": "queue", "position": position, "estimated_wait_seconds": estimate.seconds(position)}


def waiting_conversations(*, queue_id: int, limit: int = 1000) -> list[Conversation]:
    references = list(
        WorkItem.objects.filter(queue_id=queue_id, state__in=WAITING_STATES, channel=WorkItem.Channel.CHAT)
        .order_by("-priority", "enqueued_at")
        .values_list("reference", flat=True)[:limit]
    )
    by_id = {str(c.pk): c for c in Conversation.objects.filter(pk__in=references).select_related("queue", "contact")}
    return [by_id[ref] for ref in references if ref in by_id]


QUEUE_UPDATE_LIMIT = 100


def queue_update_frame(*, queue: Queue) -> dict:
    """The waiting list of one queue as agents see it (A2): the first QUEUE_UPDATE_LIMIT in
    line with their details, and how many wait in all."""
    waiting = []
    conversations = waiting_conversations(queue_id=queue.pk, limit=max(QUEUE_UPDATE_LIMIT, 200))
    for position, conversation in enumerate(conversations[:QUEUE_UPDATE_LIMIT], start=1):
        summary = conversation_summary(conversation)
        summary["position"] = position
        waiting.append(summary)
    return {
        "type": "queue_update",
        "queue": {"id": queue.pk, "name": queue.name},
        "waiting": waiting,
        "total": WorkItem.objects.filter(queue=queue, state__in=WAITING_STATES).count(),
    }


def items_after(*, conversation_id, after_seq: int, for_agent: bool) -> list[dict]:
    """Every stored frame after `after_seq`, in seq order. Agents also get notes."""
    messages = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
    if for_agent:
        messages = Message.objects.filter(
            Q(seq__gt=after_seq) | Q(internal=True, seq=after_seq), conversation_id=conversation_id
        )
    else:
        messages = messages.filter(internal=False)
    events = ConversationEvent.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
    frames_m = [(m.seq, 1 if m.internal else 0, m.pk, message_frame(m, for_agent=for_agent)) for m in messages]
    frames_e = [(e.seq, 0, e.pk, event_frame(e, for_agent=for_agent)) for e in events]
    return [frame for *_, frame in heapq.merge(sorted(frames_m), sorted(frames_e))]


# --- what an agent may see and do -------------------------------------------------------


def visible_queue_ids(*, user) -> list[int]:
    return list(agent_queues(user=user).values_list("pk", flat=True))


def conversation_for_agent(*, user, conversation_id) -> Conversation:
    """Fetch and authorise together: an agent sees conversations of their queues and those
    they took part in; supervisors see all. Raises Conversation.DoesNotExist otherwise."""
    conversation = Conversation.objects.select_related("queue", "contact", "widget").get(pk=conversation_id)
    if may_see_conversation(user=user, conversation=conversation):
        return conversation
    raise Conversation.DoesNotExist


def may_see_conversation(*, user, conversation: Conversation) -> bool:
    return (
        is_supervisor(user)
        or conversation.queue_id in visible_queue_ids(user=user)
        or Participant.objects.filter(conversation=conversation, agent=user).exists()
    )


def active_conversations_of(*, user) -> list[Conversation]:
    """Open chats the agent is in, with `my_role` (agent or consultant)."""
    mine = Participant.objects.filter(conversation=OuterRef("pk"), agent=user, left_at__isnull=True)
    return list(
        Conversation.objects.filter(Exists(mine), state__in=[Conversation.State.ACTIVE, Conversation.State.QUEUED])
        .annotate(my_role=Subquery(mine.values("role")[:1]))
        .select_related("queue", "contact")
        .order_by("created_at")
    )


def recent_conversations_of(*, user, limit: int = 10) -> list[Conversation]:
    return list(
        Conversation.objects.filter(participants__agent=user, state=Conversation.State.ENDED)
        .select_related("queue", "contact")
        .distinct()
        .order_by("-ended_at")[:limit]
    )


def pending_offers_of(*, agent: AgentProfile) -> list[WorkItem]:
    offered = WorkItem.objects.filter(agent=agent, state=WorkItem.State.OFFERED, channel=WorkItem.Channel.CHAT)
    return list(offered.select_related("queue"))


def transcript_lines(*, conversation_id) -> list[Message]:
    """What the customer saw, in order: their messages, agents' and system messages (no notes)."""
    return list(Message.objects.filter(conversation_id=conversation_id, internal=False).order_by("seq"))


def conversations_for_agent(*, user):
    """Conversations of the agent's queues and those the agent took part in, newest first.
    A subquery rather than a join, so no DISTINCT: callers may annotate and slice cheaply."""
    conversations = Conversation.objects.select_related("queue", "contact").order_by("-created_at")
    if is_supervisor(user):
        return conversations
    took_part = Participant.objects.filter(agent=user).values("conversation_id")
    return conversations.filter(Q(queue_id__in=visible_queue_ids(user=user)) | Q(pk__in=took_part))


def offline_messages_for_agent(*, user):
    messages = OfflineMessage.objects.select_related("queue").order_by("handled_at", "-created_at")
    if is_supervisor(user):
        return messages
    return messages.filter(queue_id__in=visible_queue_ids(user=user))
