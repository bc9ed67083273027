"""Wrap-up after a chat: the agent records a disposition code and a note, within the wrap-up
time (the queue's or the agent's own, and never less than five minutes)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from routing.models import AgentProfile, DispositionCode

from .models import Conversation, Participant
from .services import ChatError

MIN_WRAP_UP_SECONDS = 300
MAX_NOTE = 2000


def codes_for(conversation: Conversation):
    return DispositionCode.objects.filter(Q(queue__isnull=True) | Q(queue=conversation.queue_id), is_active=True)


def wrap_up_until(conversation: Conversation, user) -> datetime.datetime | None:
    if conversation.ended_at is None:
        return None
    own = AgentProfile.objects.filter(user=user).values_list("wrap_up_seconds", flat=True).first() or 0
    seconds = max(conversation.queue.wrap_up_seconds, own, MIN_WRAP_UP_SECONDS)
    return conversation.ended_at + datetime.timedelta(seconds=seconds)


def wrap_up_form(*, conversation_id, user) -> dict:
    conversation = _conversation_of(conversation_id, user)
    until = wrap_up_until(conversation, user)
    return {
        "codes": [{"id": code.pk, "name": code.name} for code in codes_for(conversation)],
        "disposition_id": conversation.disposition_id,
        "note": conversation.wrap_up_note,
        "until": until.isoformat() if until else None,
        "open": until is not None and timezone.now() <= until,
    }


@transaction.atomic
def wrap_up_set(*, conversation_id, user, disposition_id=None, note: str = "") -> Conversation:
    conversation = _conversation_of(conversation_id, user, lock=True)
    if conversation.state != Conversation.State.ENDED:
        raise ChatError("not_ended", _("Wrap-up comes after the chat has ended."))
    if timezone.now() > wrap_up_until(conversation, user):
        raise ChatError("wrap_up_over", _("The wrap-up time of this chat is over."))
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ChatError("invalid", _("A note is text of at most %(max)s characters.") % {"max": MAX_NOTE})
    code = None
    if disposition_id is not None:
        code = codes_for(conversation).filter(pk=disposition_id).first()
        if code is None:
            raise ChatError("invalid", _("Choose one of this queue's disposition codes."))
    conversation.disposition = code
    conversation.wrap_up_note = note.strip()
    conversation.save(update_fields=["disposition", "wrap_up_note"])
    return conversation


def _conversation_of(conversation_id, user, *, lock: bool = False) -> Conversation:
    """Only an agent who served the chat wraps it up."""
    conversations = Conversation.objects.select_related("queue")
    if lock:
        conversations = conversations.select_for_update(no_key=True, of=("self",))
    conversation = conversations.filter(pk=conversation_id).first()
    served = (
        conversation is not None
        and Participant.objects.filter(conversation=conversation, agent=user, role=Participant.Role.AGENT).exists()
    )
    if not served:
        raise ChatError("not_found", _("No such conversation of yours."))
    return conversation
