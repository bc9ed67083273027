"""Turning stored history into contact records (live) and importing a former system's."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Min

from chat.models import Conversation, ConversationEvent, Message, Participant
from quality.models import PurgedTranscript
from routing.models import WorkItem, WorkItemEvent

from .models import ContactRecord, ContactRecordDue

CHAT = WorkItem.Channel.CHAT
BATCH = 500


def record_conversation(*, conversation_id) -> ContactRecord | None:
    """(Re)compute the record of one ended chat from its events, messages and participants."""
    conversation = Conversation.objects.select_related("queue").filter(pk=conversation_id).first()
    if conversation is None or conversation.state != Conversation.State.ENDED:
        return None
    reference = str(conversation.pk)
    existing = ContactRecord.objects.filter(source=ContactRecord.Source.LIVE, channel=CHAT, reference=reference).first()
    if existing is not None and PurgedTranscript.objects.filter(conversation=conversation).exists():
        return existing  # its messages are gone after the retention time; the record keeps their figures
    agents = Participant.objects.filter(conversation=conversation, role=Participant.Role.AGENT)
    first_agent = agents.order_by("joined_at", "pk").values_list("agent_id", flat=True).first()
    visible = Message.objects.filter(conversation=conversation, internal=False)
    first_reply = None
    if conversation.assigned_at is not None:
        first_reply = visible.filter(author_role=Message.Role.AGENT, sent_at__gte=conversation.assigned_at).aggregate(
            first=Min("sent_at")
        )["first"]
    values = {
        "queue": conversation.queue,
        "agent_id": first_agent if conversation.assigned_at else None,
        "started_at": conversation.created_at,
        "answered_at": conversation.assigned_at,
        "ended_at": conversation.ended_at,
        "abandoned": conversation.assigned_at is None,
        "offered_to_agent": WorkItemEvent.objects.filter(
            work_item__channel=CHAT, work_item__reference=reference, kind="offered"
        ).exists(),
        "first_response_at": first_reply,
        "customer_last_at": visible.filter(author_role=Message.Role.CUSTOMER).aggregate(last=Max("sent_at"))["last"],
        "agent_messages": visible.filter(author_role=Message.Role.AGENT).count(),
        "customer_messages": visible.filter(author_role=Message.Role.CUSTOMER).count(),
        "agents": agents.values("agent_id").distinct().count(),
        "transferred": ConversationEvent.objects.filter(conversation=conversation, kind="transferred").exists(),
        "rating": conversation.rating,
        "end_reason": conversation.end_reason,
        "target_seconds": conversation.queue.service_level_target_seconds,
    }
    record, _ = ContactRecord.objects.update_or_create(
        source=ContactRecord.Source.LIVE, channel=CHAT, reference=reference, defaults=values
    )
    return record


def contact_record_due(*, conversation_id, **_signal) -> None:
    """A chat ended or was rated (chat.signals): its record is to be made."""
    ContactRecordDue.objects.create(conversation_id=conversation_id)


def record_ended_conversations(*, limit: int = BATCH) -> int:
    """Make the records that are due (`ContactRecordDue`): chats that ended, or were rated
    after the end. Beat runs this every few seconds; two beats at once record each chat once.

    Only the due rows are read, so this costs the same with a thousand ended chats or a
    million. (An anti-join of all ended chats against all records did not: with statistics
    behind a burst of new rows PostgreSQL planned it as a nested loop, 2.7 s for 3,000 chats,
    again every 5 s.)"""
    done = 0
    for due_id in list(ContactRecordDue.objects.order_by("pk").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            due = ContactRecordDue.objects.select_for_update(skip_locked=True).filter(pk=due_id).first()
            if due is None:  # the other beat has it, or made it
                continue
            if record_conversation(conversation_id=due.conversation_id) is not None:
                done += 1
            due.delete()
    return done
