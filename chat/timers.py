"""Chat's clocks, swept by beat: silent customers (W11) and automatic replies (X1).

Each sweep reads its candidates without locks, then handles each conversation in its own short
transaction: the row is locked with FOR NO KEY UPDATE SKIP LOCKED and the rule checked again
on the fresh row, so two sweeps at once (two beats by mistake) never warn, reply or close
twice, and a sweep never waits for a customer's message or an agent's action.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from routing import locks
from routing.models import WorkItem

from . import selectors, services
from .models import Conversation

WARN = "warned"
CLOSE = "closed"
INACTIVITY_REASON = "inactivity"


def _locked_conversation(conversation_id) -> Conversation | None:
    """The conversation, locked; None when another transaction holds it. Must run inside a
    transaction."""
    return (
        Conversation.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
        .select_related("queue", "widget")
        .filter(pk=conversation_id)
        .first()
    )


# --- silent customers (W11) -------------------------------------------------------------


def inactivity_due(*, conversation: Conversation, now: datetime.datetime) -> str | None:
    """What the customer's silence calls for now: WARN, CLOSE or None.

    Silence counts from the customer's last message, or from when an agent first answered if
    the customer has written nothing since. The warning is given once per silence. When the
    queue warns, the chat closes only once the customer has had the time between warning and
    close since the warning, even if the warning came late (beat was down).
    """
    if conversation.state != Conversation.State.ACTIVE:
        return None
    queue = conversation.queue
    warn, close = queue.inactivity_warning_seconds, queue.inactivity_close_seconds
    since = max((t for t in (conversation.last_customer_message_at, conversation.assigned_at) if t), default=None)
    if since is None or (warn is None and close is None):
        return None
    silence = now - since
    warned_at = conversation.inactivity_warned_at
    if close is not None and silence >= datetime.timedelta(seconds=close):
        if warn is None:
            return CLOSE
        if warned_at is not None and now - warned_at >= datetime.timedelta(seconds=max(close - warn, 0)):
            return CLOSE
    if warn is not None and warned_at is None and silence >= datetime.timedelta(seconds=warn):
        return WARN
    return None


def conversations_watch_inactivity(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Warn customers silent past their queue's warning time, close chats silent past its close
    time (run by beat every few seconds). Returns how many were warned and closed."""
    now = now or timezone.now()
    done = {WARN: 0, CLOSE: 0}
    candidates = (
        Conversation.objects.filter(state=Conversation.State.ACTIVE)
        .filter(Q(queue__inactivity_warning_seconds__isnull=False) | Q(queue__inactivity_close_seconds__isnull=False))
        .select_related("queue")
        .only(
            "pk",
            "state",
            "assigned_at",
            "last_customer_message_at",
            "inactivity_warned_at",
            "queue__inactivity_warning_seconds",
            "queue__inactivity_close_seconds",
        )
    )
    for conversation in candidates.iterator(chunk_size=500):
        if inactivity_due(conversation=conversation, now=now) is not None:
            outcome = conversation_inactivity_act(conversation_id=conversation.pk, now=now)
            if outcome is not None:
                done[outcome] += 1
    return done


def conversation_inactivity_act(*, conversation_id, now: datetime.datetime) -> str | None:
    """Warn or close one silent chat if its silence still calls for it; returns what was done."""
    with transaction.atomic():
        # The work item before the conversation, as conversation_end and the router lock them.
        item = locks.active_work_item_or_skip(channel=services.CHANNEL, reference=str(conversation_id))
        if item is None and _has_active_item(conversation_id):
            return None  # another transaction holds it: the next sweep comes back
        conversation = _locked_conversation(conversation_id)
        if conversation is None:
            return None
        due = inactivity_due(conversation=conversation, now=now)
        if due == WARN:
            services.system_message_post(conversation=conversation, text=_inactivity_warning_text(conversation))
            conversation.inactivity_warned_at = now
            conversation.save(update_fields=["inactivity_warned_at"])
        elif due == CLOSE:
            with translation.override(conversation.locale):
                text = _("This chat was closed because we did not hear from you. You are welcome to start a new chat.")
            services.system_message_post(conversation=conversation, text=text)
            services.conversation_end(
                conversation_id=conversation.pk, ended_by=Conversation.EndedBy.SYSTEM, reason=INACTIVITY_REASON
            )
    return due


def _has_active_item(conversation_id) -> bool:
    return WorkItem.objects.filter(
        channel=services.CHANNEL, reference=str(conversation_id), state__in=WorkItem.ACTIVE_STATES
    ).exists()


def _inactivity_warning_text(conversation: Conversation) -> str:
    text = conversation.queue.inactivity_warning_text.strip()
    if text:
        return text
    with translation.override(conversation.locale):
        return _("Are you still there? This chat will close soon if we hear nothing from you.")


# --- automatic reply (X1) ---------------------------------------------------------------


def auto_reply_due(*, conversation: Conversation, now: datetime.datetime) -> bool:
    """A chat no agent has answered yet, waiting longer than its queue's automatic-reply time,
    gets one reply."""
    seconds = conversation.queue.auto_reply_seconds
    return (
        seconds is not None
        and conversation.state == Conversation.State.QUEUED
        and conversation.assigned_at is None
        and conversation.auto_replied_at is None
        and now - conversation.created_at >= datetime.timedelta(seconds=seconds)
    )


def conversations_auto_reply(*, now: datetime.datetime | None = None) -> int:
    """Send the automatic reply to every chat due one (run by beat every few seconds)."""
    now = now or timezone.now()
    candidates = (
        Conversation.objects.filter(
            state=Conversation.State.QUEUED,
            assigned_at__isnull=True,
            auto_replied_at__isnull=True,
            queue__auto_reply_seconds__isnull=False,
        )
        .select_related("queue")
        .only("pk", "state", "created_at", "assigned_at", "auto_replied_at", "queue__auto_reply_seconds")
    )
    return sum(
        conversation_auto_reply(conversation_id=conversation.pk, now=now)
        for conversation in candidates.iterator(chunk_size=500)
        if auto_reply_due(conversation=conversation, now=now)
    )


def conversation_auto_reply(*, conversation_id, now: datetime.datetime) -> bool:
    """Send one waiting chat its automatic reply, with its place in the queue, if still due."""
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        if conversation is None or not auto_reply_due(conversation=conversation, now=now):
            return False
        item = WorkItem.objects.filter(
            channel=services.CHANNEL, reference=str(conversation.pk), state__in=selectors.WAITING_STATES
        ).first()
        if item is None:
            return False
        queue = conversation.queue
        position = selectors.queue_position(item=item)
        text = ""
        if queue.auto_reply_text.strip():
            snapshot = selectors.queue_snapshot(queue=queue)
            text = services.queue_text(
                template=queue.auto_reply_text, queue=queue, snapshot=snapshot, position=position
            )
        if not text:
            with translation.override(conversation.locale):
                text = _(
                    "Thank you for waiting. All our agents are busy; you are number %(position)s in the queue."
                ) % {"position": position}
        services.system_message_post(conversation=conversation, text=text)
        conversation.auto_replied_at = now
        conversation.save(update_fields=["auto_replied_at"])
    return True
