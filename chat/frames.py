"""Stored rows to wire frames (PROTOCOL.md). One place, so the widget, the workspace, the
REST API and replay after reconnect all send the same shapes."""

from __future__ import annotations

from .models import Conversation, ConversationEvent, Message


def message_frame(message: Message, *, for_agent: bool) -> dict:
    frame = {
        "type": "message",
        "seq": message.seq,
        "author": {"role": message.author_role, "name": message.author_name},
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
    }
    if message.link_url:
        frame["link"] = message.link_url
    if message.client_id is not None:
        frame["client_id"] = str(message.client_id)
    if for_agent:
        frame["conversation_id"] = str(message.conversation_id)
        frame["id"] = message.pk
        if message.internal:
            frame["internal"] = True
    return frame


def event_frame(event: ConversationEvent, *, for_agent: bool) -> dict:
    frame = {
        "type": "event",
        "seq": event.seq,
        "event": event.kind,
        "data": event.data,
        "at": event.at.isoformat(),
    }
    if for_agent:
        frame["conversation_id"] = str(event.conversation_id)
    return frame


def conversation_summary(conversation: Conversation) -> dict:
    """What the workspace needs to show a conversation in its lists and customer panel."""
    contact = conversation.contact
    return {
        "conversation_id": str(conversation.id),
        "state": conversation.state,
        "queue": {"id": conversation.queue_id, "name": conversation.queue.name},
        "customer": {
            "contact_id": contact.pk,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
        },
        "prechat": conversation.prechat,
        "context": conversation.context,
        "locale": conversation.locale,
        "started_at": conversation.created_at.isoformat(),
        "ended_at": conversation.ended_at.isoformat() if conversation.ended_at else None,
        "last_seq": conversation.last_seq,
        "agent_read_seq": conversation.agent_read_seq,
    }


def assigned_frame(conversation: Conversation) -> dict:
    """Tells an agent a conversation is theirs; its history follows."""
    return {**conversation_summary(conversation), "type": "assigned"}
