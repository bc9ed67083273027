"""The verbs of chat: start, post, end, read, rate, typing; the customer token.

Each public function is one transaction; every message and lifecycle event is a row with a
per-conversation `seq`, written before it is published (after commit).
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
import uuid

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from contactcenter.realtime import publish_now, publish_on_commit
from contactcenter.redis_client import get_redis
from contactcenter.redis_client import key as redis_key
from routing import services as routing
from routing.hours import is_open
from routing.models import AgentProfile, Contact, Queue, WorkItem
from webhooks import services as webhooks
from webhooks.models import Event

from . import search, selectors, signals
from .frames import event_frame, message_frame
from .models import (
    MAX_MESSAGE_LENGTH,
    Conversation,
    ConversationEvent,
    Message,
    OfflineMessage,
    Participant,
    TranscriptEmail,
    Widget,
    new_token_nonce,
)
from .placeholders import fill
from .prechat import validate_prechat

logger = logging.getLogger(__name__)

TOKEN_SALT = "chat.customer-token"  # noqa: S105 - a signing salt, not a secret
CHANNEL = WorkItem.Channel.CHAT
CONTEXT_KEYS = ("client_id", "app_version", "device", "os", "page_url")


class ChatError(Exception):
    """A chat verb cannot be done. `code` goes on the wire; the message is for people."""

    def __init__(self, code: str, message: str, *, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


def conv_group(conversation_id) -> str:
    return f"conv.{conversation_id}"


def agents_group(conversation_id) -> str:
    """Notes travel only here; customer sockets never join it."""
    return f"conv.{conversation_id}.agents"


# --- the customer's credential ----------------------------------------------------------


def customer_token_for(conversation: Conversation) -> str:
    return signing.dumps({"c": str(conversation.id), "n": conversation.customer_token_nonce}, salt=TOKEN_SALT)


def conversation_for_customer_token(token: str) -> Conversation:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT)
        conversation = Conversation.objects.select_related("widget", "queue").get(pk=payload["c"])
    except (signing.BadSignature, Conversation.DoesNotExist, KeyError, TypeError, ValueError):
        raise ChatError("unauthorized", _("Unknown or revoked token.")) from None
    if payload.get("n") != conversation.customer_token_nonce:
        raise ChatError("unauthorized", _("Unknown or revoked token."))
    return conversation


@transaction.atomic
def customer_token_refresh(*, token: str) -> tuple[Conversation, str]:
    """A new token for the same conversation; the old one stops working (W10: an app rotates
    its stored credential, e.g. after a restore from backup)."""
    conversation = conversation_for_customer_token(token)
    conversation = Conversation.objects.select_for_update(no_key=True, of=("self",)).get(pk=conversation.pk)
    conversation.customer_token_nonce = new_token_nonce()
    conversation.save(update_fields=["customer_token_nonce"])
    return conversation, customer_token_for(conversation)


@transaction.atomic
def customer_token_revoke(*, conversation_id) -> None:
    Conversation.objects.filter(pk=conversation_id).update(customer_token_nonce=new_token_nonce())


# --- seq --------------------------------------------------------------------------------


def _next_seq(conversation_id) -> int:
    """Take the conversation's next seq. Holds the conversation's row lock until commit, so
    seqs are gap-free and follow commit order. Must run inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE chat_conversation SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise ChatError("not_found", _("No such conversation."))
    return row[0]


def _current_seq(conversation_id) -> int:
    return Conversation.objects.filter(pk=conversation_id).values_list("last_seq", flat=True).get()


def _store_event(conversation: Conversation, kind: str, data: dict | None = None, actor=None) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        conversation=conversation, seq=_next_seq(conversation.pk), kind=kind, data=data or {}, actor=actor
    )
    publish_on_commit(groups=[conv_group(conversation.pk)], event=event_frame(event, for_agent=True))
    return event


def _store_message(
    conversation: Conversation,
    *,
    role: str,
    text: str,
    name: str = "",
    user=None,
    client_id=None,
    internal=False,
    link_url: str = "",
) -> Message:
    seq = _current_seq(conversation.pk) if internal else _next_seq(conversation.pk)
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        client_id=client_id,
        author_role=role,
        author_user=user,
        author_name=name,
        text=text,
        link_url=link_url,
        internal=internal,
    )
    group = agents_group(conversation.pk) if internal else conv_group(conversation.pk)
    frame = message_frame(message, for_agent=True)
    publish_on_commit(groups=[group], event=frame)
    if not internal:  # hidden notes never leave the contact center
        webhooks.emit(Event.MESSAGE_CREATED, message_data(frame))
        if role == Message.Role.AGENT and customer_away(conversation=conversation):
            push_customer(conversation, frame)
    return message


# --- the customer's connection, for app pushes (W10) ------------------------------------

CUSTOMER_STALE_SECONDS = 45  # two missed socket heartbeats


def sockets_key(conversation_id) -> str:
    return redis_key("conv", str(conversation_id), "customer_sockets")


def customer_socket_opened(*, conversation_id) -> None:
    client = get_redis()
    client.incr(sockets_key(conversation_id))
    client.expire(sockets_key(conversation_id), 86400)


def customer_socket_closed(*, conversation_id) -> None:
    get_redis().decr(sockets_key(conversation_id))


def customer_away(*, conversation: Conversation) -> bool:
    """No chat window of the customer is open: none counted, or none heard from lately (a
    process that died with its sockets cannot count them down)."""
    seen = conversation.customer_seen_at
    if seen is None or seen < timezone.now() - datetime.timedelta(seconds=CUSTOMER_STALE_SECONDS):
        return True
    return customer_sockets([conversation.pk])[0] <= 0


def customer_sockets(conversation_ids: list) -> list[int]:
    """The customer's open chat windows per conversation. Without Redis none is known to be
    open, so the customer counts as away: a message is stored and pushed, never refused
    because the count is out of reach."""
    try:
        counts = get_redis().mget([sockets_key(pk) for pk in conversation_ids])
    except RedisError as error:
        logger.warning("customer socket counts unavailable (%s); counting the customers as away", error)
        return [0] * len(conversation_ids)
    return [int(count or 0) for count in counts]


def push_customer(conversation: Conversation, frame: dict) -> None:
    """Tell the app's backend to wake the customer's app: who wrote, and a preview."""
    webhooks.emit(
        Event.PUSH_AGENT_MESSAGE,
        {
            "conversation_id": str(conversation.pk),
            "widget": conversation.widget.key,
            "client_id": (conversation.context or {}).get("client_id"),
            "locale": conversation.locale,
            "seq": frame["seq"],
            "author": frame["author"]["name"],
            "preview": frame["text"][:120],
        },
    )


def message_data(frame: dict) -> dict:
    return {key: frame[key] for key in ("conversation_id", "seq", "author", "text", "link", "sent_at") if key in frame}


def system_message_post(*, conversation: Conversation, text: str) -> Message:
    """A line from the service itself (welcome, automatic reply, inactivity warning), signed
    with the widget's title. Must run inside a transaction (it takes the next seq)."""
    widget = conversation.widget
    return _store_message(
        conversation, role=Message.Role.SYSTEM, text=text[:MAX_MESSAGE_LENGTH], name=widget.title or widget.name
    )


# --- start ------------------------------------------------------------------------------


def conversation_start(
    *,
    widget: Widget,
    prechat: dict,
    locale: str = "en",
    context: dict | None = None,
    visitor_id: str | None = None,
) -> tuple[Conversation, str]:
    """Open hours first, then the pre-chat form, then queue the chat (W3, W4, W5)."""
    if not widget.is_active:
        raise ChatError("not_found", _("Unknown widget."))
    now = timezone.now()
    if not is_open(queue=widget.queue, at=now):
        raise ChatError("closed", widget.queue.closed_message or _("We are closed right now."))
    answers, errors, routed_queue = validate_prechat(queue=widget.queue, answers=prechat)
    if errors:
        raise ChatError("invalid", _("Please check the form."), fields=errors)
    queue = routed_queue or widget.queue
    if queue != widget.queue and not is_open(queue=queue, at=now):
        raise ChatError("closed", queue.closed_message or _("We are closed right now."))
    clean_context = _clean_context(context or {})
    with transaction.atomic():
        try:
            queue = routing.queue_with_room(queue=queue, channel=CHANNEL)
        except routing.RoutingError as error:
            raise ChatError("full", str(error)) from None
        contact = _contact_for(visitor_id=visitor_id, answers=answers, form_queue=widget.queue)
        conversation = Conversation.objects.create(
            widget=widget, queue=queue, contact=contact, prechat=answers, context=clean_context, locale=locale
        )
        conversation.customer_seen_at = now
        conversation.save(update_fields=["customer_seen_at"])
        item = routing.work_item_enqueue(channel=CHANNEL, reference=str(conversation.pk), queue=queue)
        snapshot = selectors.queue_snapshot(queue=queue)
        position = selectors.queue_position(item=item)
        _store_event(
            conversation,
            "queued",
            {
                "queue": queue.name,
                "position": position,
                "estimated_wait_seconds": selectors.estimated_wait_seconds(queue=queue, position=position),
                "agents_available": snapshot["agents_available"],
            },
        )
        webhooks.emit(
            Event.CONVERSATION_STARTED,
            {
                "conversation_id": str(conversation.pk), "queue": {"id": queue.pk, "name": queue.name},
                "widget": widget.key, "locale": locale, "context": clean_context,
                "started_at": conversation.created_at.isoformat(),
            },
        )  # fmt: skip
        welcome = _welcome_text(queue=queue, snapshot=snapshot, position=position)
        if welcome:
            system_message_post(conversation=conversation, text=welcome)
    return conversation, customer_token_for(conversation)


def _clean_context(context: dict) -> dict:
    clean = {}
    for key in CONTEXT_KEYS:
        value = context.get(key)
        if value is not None:
            clean[key] = str(value)[:500]
    return clean


def _contact_for(*, visitor_id: str | None, answers: dict, form_queue: Queue) -> Contact:
    visitor = None
    if visitor_id:
        try:
            visitor = uuid.UUID(str(visitor_id))
        except ValueError:
            visitor = None
    contact = None
    if visitor is not None:
        contact, _ = Contact.objects.get_or_create(visitor_id=visitor)
    else:
        contact = Contact.objects.create()
    updates = {}
    for field in form_queue.prechat_fields.all():
        value = answers.get(field.name)
        if not value:
            continue
        if field.type == "email":
            updates["email"] = value
        elif field.type == "phone":
            updates["phone"] = value
        elif field.name in ("name", "full_name", "nimi", "navn"):
            updates["name"] = value
    if updates:
        for key, value in updates.items():
            setattr(contact, key, value)
        contact.save(update_fields=list(updates))
    return contact


def _welcome_text(*, queue: Queue, snapshot: dict, position: int) -> str:
    return queue_text(template=queue.welcome_message, queue=queue, snapshot=snapshot, position=position)


def queue_text(*, template: str, queue: Queue, snapshot: dict, position: int) -> str:
    """A queue's own text (welcome message, automatic reply) with its live values filled in:
    {agents_available}, {queue_position}, {estimated_wait_minutes}. Empty for an empty template."""
    template = template.strip()
    if not template:
        return ""
    wait = selectors.estimated_wait_seconds(queue=queue, position=position)
    return fill(
        template,
        agents_available=snapshot["agents_available"],
        queue_position=position,
        estimated_wait_minutes=max(1, round(wait / 60)) if wait is not None else "?",
    )


# --- messages ---------------------------------------------------------------------------


def validate_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ChatError("invalid", _("A message needs text."))
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ChatError("too_long", _("A message can be at most %(max)s characters.") % {"max": MAX_MESSAGE_LENGTH})
    if "\x00" in text:  # PostgreSQL's text cannot hold it; one such post must not fail a whole batch
        raise ChatError("invalid", _("A message cannot contain the character NUL (U+0000)."))
    return text


LINK_SCHEMES = ("http", "https", "mailto", "tel")
MAX_LINK_LENGTH = 2000


def validate_link(url) -> str:
    """A link an agent may send (W8): http, https, mailto or tel, nothing that runs script."""
    if not isinstance(url, str) or not url.strip():
        raise ChatError("invalid", _("A link needs an address."))
    url = url.strip()
    if len(url) > MAX_LINK_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ChatError("invalid", _("This link address is not valid."))
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in LINK_SCHEMES:
        raise ChatError("invalid", _("Only http, https, mailto and tel links can be sent."))
    if parsed.scheme.lower() in ("http", "https") and not parsed.hostname:
        raise ChatError("invalid", _("This link address is not valid."))
    if parsed.scheme.lower() in ("mailto", "tel") and not parsed.path:
        raise ChatError("invalid", _("This link address is not valid."))
    return url


def validate_client_id(client_id) -> uuid.UUID | None:
    if client_id is None:
        return None
    try:
        return uuid.UUID(str(client_id))
    except ValueError:
        raise ChatError("invalid", _("client_id must be a UUID.")) from None


def _post_once(conversation_id, client_uuid, store) -> tuple[Message, bool]:
    """Run `store` (which writes the message) unless this client_id is stored already; a
    concurrent resend that loses the unique-constraint race returns the stored message."""
    existing = _existing_message(conversation_id, client_uuid)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return store(), True
    except IntegrityError:
        existing = _existing_message(conversation_id, client_uuid)
        if existing is None:
            raise
        return existing, False


def message_post_by_customer(*, conversation_id, client_id, text) -> tuple[Message, bool]:
    """Store the customer's message once per client_id; returns (message, created).

    The hot path of the relay: one UPDATE takes the seq, checks the chat is open and marks
    the customer present; one INSERT stores the message.
    """
    text = validate_text(text)
    client_uuid = validate_client_id(client_id)

    def store() -> Message:
        with connection.cursor() as cursor:
            cursor.execute(
                # The customer spoke: their silence (W11) counts again from now, unwarned. The
                # application's clock, as for the other times the inactivity rule compares.
                "UPDATE chat_conversation SET last_seq = last_seq + 1, customer_seen_at = now(), "
                "last_customer_message_at = %s, inactivity_warned_at = NULL "
                "WHERE id = %s AND state <> 'ended' "
                "RETURNING last_seq, (SELECT name FROM routing_contact WHERE id = contact_id)",
                [timezone.now(), conversation_id],
            )
            row = cursor.fetchone()
        if row is None:
            if Conversation.objects.filter(pk=conversation_id).exists():
                raise ChatError("ended", _("This chat has ended."))
            raise ChatError("not_found", _("No such conversation."))
        seq, name = row
        message = Message.objects.create(
            conversation_id=conversation_id,
            seq=seq,
            client_id=client_uuid,
            author_role=Message.Role.CUSTOMER,
            author_name=name or "",
            text=text,
        )
        frame = message_frame(message, for_agent=True)
        publish_on_commit(groups=[conv_group(conversation_id)], event=frame)
        webhooks.emit(Event.MESSAGE_CREATED, message_data(frame))
        return message

    return _post_once(conversation_id, client_uuid, store)


def message_post_by_agent(
    *, conversation_id, user, client_id, text, internal: bool = False, link_url: str | None = None
) -> tuple[Message, bool]:
    """An agent's message, note (A8) or link under an alias text (W8) in a conversation the
    agent takes part in. A consultant writes notes only."""
    if link_url is not None:
        link_url = validate_link(link_url)
        text = text if isinstance(text, str) and text.strip() else link_url
    text = validate_text(text)
    client_uuid = validate_client_id(client_id)

    def store() -> Message:
        conversation = (
            Conversation.objects.select_for_update(no_key=True, of=("self",))
            .select_related("widget")
            .get(pk=conversation_id)
        )
        participant = Participant.objects.filter(conversation=conversation, agent=user, left_at__isnull=True).first()
        if not internal and (participant is None or participant.role == Participant.Role.CONSULTANT):
            raise ChatError("forbidden", _("You are not in this chat."))
        if participant is None and not selectors.may_see_conversation(user=user, conversation=conversation):
            # A note from outside the chat: only from those who may see it (its queues' agents,
            # earlier participants, supervisors); to anyone else the chat does not exist.
            raise ChatError("not_found", _("No such conversation."))
        if conversation.state == Conversation.State.ENDED and not internal:
            raise ChatError("ended", _("This chat has ended."))
        name = participant.shown_name if participant else shown_agent_name(conversation.widget, user)
        message = _store_message(
            conversation,
            role=Message.Role.AGENT,
            text=text,
            name=name,
            user=user,
            client_id=client_uuid,
            internal=internal,
            link_url=link_url or "",
        )
        if conversation.state == Conversation.State.ENDED:
            search.conversation_index(conversation_id=conversation.pk)  # a note added to history
        return message

    return _post_once(conversation_id, client_uuid, store)


def _existing_message(conversation_id, client_uuid) -> Message | None:
    if client_uuid is None:
        return None
    return Message.objects.filter(conversation_id=conversation_id, client_id=client_uuid).first()


def shown_agent_name(widget: Widget, user) -> str:
    """The name customers see for an agent (W12)."""
    if widget.agent_name == Widget.AgentName.TITLE and widget.agent_title:
        return widget.agent_title
    if widget.agent_name == Widget.AgentName.DISPLAY_NAME:
        profile = AgentProfile.objects.filter(user=user).only("display_name").first()
        if profile and profile.display_name:
            return profile.display_name
    return user.first_name or user.get_username()


# --- joining and ending -----------------------------------------------------------------


def agent_join(*, conversation_id, agent: AgentProfile) -> Conversation:
    """The router assigned the chat to `agent`. Called inside the router's transaction."""
    conversation = (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("widget")
        .get(pk=conversation_id)
    )
    if conversation.state == Conversation.State.ENDED:
        return conversation
    name = shown_agent_name(conversation.widget, agent.user)
    Participant.objects.get_or_create(
        conversation=conversation, agent=agent.user, left_at=None, defaults={"shown_name": name}
    )
    conversation.agent = agent.user
    conversation.state = Conversation.State.ACTIVE
    conversation.assigned_at = conversation.assigned_at or timezone.now()
    conversation.save(update_fields=["agent", "state", "assigned_at"])
    _store_event(conversation, "agent_joined", {"name": name}, actor=agent.user)
    webhooks.emit(
        Event.CONVERSATION_ASSIGNED,
        {"conversation_id": str(conversation.pk), "agent": {"id": agent.user_id, "name": name},
         "queue_id": conversation.queue_id, "assigned_at": timezone.now().isoformat()},
    )  # fmt: skip
    from .handover import handed_over  # handover builds on this module

    handed_over(conversation=conversation, to_user=agent.user)
    return conversation


def conversation_end(*, conversation_id, ended_by: str, actor=None, reason: str = "") -> Conversation:
    """End a chat (A9): by the customer, an agent in it, or the system. Ending twice is a no-op."""
    with transaction.atomic():
        if (
            ended_by == Conversation.EndedBy.AGENT
            and not Participant.objects.filter(
                conversation_id=conversation_id, agent=actor, left_at__isnull=True
            ).exists()
        ):
            raise ChatError("forbidden", _("You are not in this chat."))
        # Lock order as in the router: the work item first, then the conversation.
        routing.work_item_finish(channel=CHANNEL, reference=str(conversation_id))
        conversation = Conversation.objects.select_for_update(no_key=True, of=("self",)).get(pk=conversation_id)
        if conversation.state == Conversation.State.ENDED:
            return conversation
        now = timezone.now()
        abandoned = conversation.state == Conversation.State.QUEUED
        conversation.state = Conversation.State.ENDED
        conversation.ended_at = now
        conversation.ended_by = ended_by
        conversation.end_reason = reason[:40] or ("abandoned" if abandoned else ended_by)
        conversation.save(update_fields=["state", "ended_at", "ended_by", "end_reason"])
        Participant.objects.filter(conversation=conversation, left_at__isnull=True).update(left_at=now)
        search.conversation_index(conversation_id=conversation.pk)
        _store_event(conversation, "ended", {"by": ended_by, "reason": conversation.end_reason}, actor=actor)
        signals.conversation_ended.send(sender=Conversation, conversation_id=conversation.pk)
        webhooks.emit(
            Event.CONVERSATION_ENDED,
            {"conversation_id": str(conversation.pk), "ended_by": ended_by, "reason": conversation.end_reason,
             "ended_at": now.isoformat()},
        )  # fmt: skip
    return conversation


def conversations_end_gone_customers(*, now: datetime.datetime | None = None) -> int:
    """End chats whose customer connection has been gone longer than the queue's grace (A9)."""
    now = now or timezone.now()
    ended = 0
    candidates = (
        Conversation.objects.exclude(state=Conversation.State.ENDED)
        .filter(customer_seen_at__isnull=False)
        .select_related("queue")
        .only("pk", "customer_seen_at", "queue__customer_grace_seconds")
    )
    for conversation in candidates.iterator(chunk_size=500):
        grace = datetime.timedelta(seconds=conversation.queue.customer_grace_seconds)
        if conversation.customer_seen_at < now - grace:
            conversation_end(
                conversation_id=conversation.pk, ended_by=Conversation.EndedBy.SYSTEM, reason="customer_gone"
            )
            ended += 1
    return ended


# --- presence of the customer, reading, rating, typing ---------------------------------


def customer_seen(*, conversation_id) -> None:
    """The customer is present now (their socket just opened)."""
    Conversation.objects.filter(pk=conversation_id).exclude(state=Conversation.State.ENDED).update(
        customer_seen_at=timezone.now()
    )


SEEN_CHUNK = 200


def customers_seen(*, conversation_ids: list) -> None:
    """The customers of these chats are still present (their sockets are open): the
    heartbeat of every customer socket of a process at once.

    Rows are locked in id order, as the relay locks them, and a row another transaction
    holds is skipped: it is marked again in the next round, well within the staleness
    limit. Locking thousands of rows in scan order deadlocked with the relay's batches."""
    ids, now = sorted(str(pk) for pk in conversation_ids), timezone.now()
    for start in range(0, len(ids), SEEN_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE chat_conversation c SET customer_seen_at = %s WHERE c.id IN ("
                "SELECT id FROM chat_conversation WHERE id = ANY(%s::uuid[]) AND state <> %s "
                "ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)",
                [now, ids[start : start + SEEN_CHUNK], Conversation.State.ENDED],
            )


def read_mark(*, conversation_id, role: str, seq: int) -> None:
    if not isinstance(seq, int) or seq < 0:
        raise ChatError("invalid", _("seq must be a non-negative integer."))
    field = "customer_read_seq" if role == Message.Role.CUSTOMER else "agent_read_seq"
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(no_key=True, of=("self",)).get(pk=conversation_id)
        seq = min(seq, conversation.last_seq)
        if seq > getattr(conversation, field):
            setattr(conversation, field, seq)
            conversation.save(update_fields=[field])
            publish_on_commit(
                groups=[agents_group(conversation_id)],
                event={"type": "read", "conversation_id": str(conversation_id), "role": role, "seq": seq},
            )


@transaction.atomic
def rating_give(*, conversation_id, score, comment: str = "") -> Conversation:
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ChatError("invalid", _("score must be a whole number from 1 to 5."))
    if not isinstance(comment, str) or len(comment) > 2000:
        raise ChatError("invalid", _("comment must be text of at most 2000 characters."))
    conversation = Conversation.objects.select_for_update(no_key=True, of=("self",)).get(pk=conversation_id)
    if conversation.state != Conversation.State.ENDED:
        raise ChatError("not_ended", _("A chat can be rated after it ends."))
    conversation.rating, conversation.rating_comment = score, comment
    conversation.save(update_fields=["rating", "rating_comment"])
    signals.conversation_rated.send(sender=Conversation, conversation_id=conversation.pk)
    webhooks.emit(
        Event.CONVERSATION_RATED,
        {
            "conversation_id": str(conversation.pk),
            "rating": conversation.rating,
            "comment": conversation.rating_comment,
        },
    )
    return conversation


def customer_presence_publish(*, conversation_id, online: bool) -> None:
    """Tell the agents whether the customer's chat window is connected (W7); not stored."""
    frame = {"type": "customer_presence", "conversation_id": str(conversation_id), "online": online}
    publish_now(groups=[agents_group(conversation_id)], event=frame)


def typing_publish(*, conversation_id, role: str, name: str, active: bool, user_id: int | None = None) -> None:
    """Typing is the one thing not stored: published at once, lost if nobody listens."""
    frame = {"type": "typing", "conversation_id": str(conversation_id), "role": role, "name": name, "active": active}
    if user_id is not None:
        frame["user_id"] = user_id
    publish_now(groups=[conv_group(conversation_id)], event=frame)


# --- transcript by e-mail (W9) ----------------------------------------------------------


def transcript_request(*, conversation_id, email) -> TranscriptEmail:
    from .tasks import send_transcript

    if not isinstance(email, str):
        raise ChatError("invalid", _("email must be an e-mail address."))
    try:
        validate_email(email)
    except ValidationError:
        raise ChatError("invalid", _("Enter a valid e-mail address.")) from None
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(no_key=True, of=("self",)).get(pk=conversation_id)
        if conversation.state != Conversation.State.ENDED:
            raise ChatError("not_ended", _("The transcript can be sent after the chat ends."))
        if conversation.transcript_emails.count() >= TranscriptEmail.MAX_PER_CONVERSATION:
            raise ChatError("rate_limited", _("The transcript has been sent too many times already."))
        request = TranscriptEmail.objects.create(conversation=conversation, email=email)
        transaction.on_commit(lambda: send_transcript.delay(request.pk))
    return request


class TranscriptBusy(Exception):
    """Another worker holds this transcript right now."""


def transcript_send(*, transcript_email_id: int) -> bool:
    """Send one requested transcript, once.

    The request row stays locked while the mail goes out and is marked sent in the same
    transaction. A worker killed mid-send leaves nothing marked: its transaction rolls back and
    the redelivered task (acks late) sends the mail. A second worker skips the locked row.
    Only a death between the SMTP server's 250 and our commit can send twice; the Message-ID
    is the same each time, so the receiving side can tell. A row locked by another worker
    raises TranscriptBusy: the task looks again later, when the other has sent it or died
    (a killed worker's transaction ends when PostgreSQL sees its connection close).
    """
    with transaction.atomic():
        request = (
            TranscriptEmail.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("conversation__widget")
            .filter(pk=transcript_email_id, sent_at__isnull=True)
            .first()
        )
        if request is None:
            if TranscriptEmail.objects.filter(pk=transcript_email_id, sent_at__isnull=True).exists():
                raise TranscriptBusy(transcript_email_id)
            return False
        conversation = request.conversation
        with translation.override(conversation.locale):
            subject = _("Your chat with %(name)s") % {"name": conversation.widget.title or conversation.widget.name}
            context = {
                "conversation": conversation,
                "lines": selectors.transcript_lines(conversation_id=conversation.pk),
            }
            body = render_to_string("chat/transcript_email.txt", context)
            html = render_to_string("chat/transcript_email.html", context)
        message = EmailMultiAlternatives(
            subject, body, to=[request.email], headers={"Message-ID": _transcript_message_id(request)}
        )
        message.attach_alternative(html, "text/html")
        message.send()
        request.sent_at = timezone.now()
        request.save(update_fields=["sent_at"])
    return True


def _transcript_message_id(request: TranscriptEmail) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
    return f"<transcript-{request.pk}.{request.conversation_id}@{domain}>"


# --- offline messages (W3) --------------------------------------------------------------


@transaction.atomic
def offline_message_leave(
    *, widget: Widget, text: str, name: str = "", email: str = "", phone: str = ""
) -> OfflineMessage:
    message = OfflineMessage.objects.create(
        widget=widget, queue=widget.queue, name=name, email=email, phone=phone, text=text
    )
    publish_on_commit(
        groups=[f"queue.{widget.queue_id}"],
        event={
            "type": "offline_message",
            "id": message.pk,
            "queue": {"id": widget.queue_id, "name": widget.queue.name},
        },
    )
    return message


@transaction.atomic
def offline_message_handle(*, message: OfflineMessage, user) -> OfflineMessage:
    updated = OfflineMessage.objects.filter(pk=message.pk, handled_at__isnull=True).update(
        handled_at=timezone.now(), handled_by=user
    )
    if updated:
        message.refresh_from_db()
    return message
