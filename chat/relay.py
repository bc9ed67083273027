"""The relay's hot path: chat messages stored in batches, published in seq order.

Customers' messages and agents' plain messages are nearly all of a contact center's traffic.
A socket hands its message to the process's writer and waits. The writer takes everything
that gathered while the previous batch was being written and stores it in one transaction on
a database thread of its own: lock the batch's conversations in id order, skip client_ids
stored already, take seqs, insert the messages, update the conversations. After the commit
a publisher sends the frames in seq order and only then wakes the senders, so nothing is
acknowledged (PROTOCOL.md: the stored message comes back as the acknowledgement) before it
is stored. One commit and six statements per batch instead of per message; under light load a
batch is one message and the path costs what the single-message service did.

Notes, links and consultants' lines take `services.message_post_by_agent`, which this
module agrees with on every rule (who may write, names, seqs, webhooks, pushes).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.realtime import send_stored
from webhooks import services as webhooks
from webhooks.models import Event

from . import services
from .frames import message_frame
from .models import Conversation, Message, Participant

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # posts per transaction; more wait for the next one
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-relay-writer")


@dataclass
class Post:
    conversation_id: uuid.UUID
    role: str  # Message.Role.CUSTOMER or AGENT
    text: str
    client_id: uuid.UUID | None
    user_id: int | None = None
    future: asyncio.Future = field(default=None, repr=False)


# Outcomes the writer thread returns; the sender's context turns them into translated errors.
CREATED, DUPLICATE, NOT_FOUND, ENDED, FORBIDDEN, UNAVAILABLE = (
    "created",
    "duplicate",
    "not_found",
    "ended",
    "forbidden",
    "unavailable",
)


async def post_customer_message(*, conversation_id, client_id, text) -> bool:
    """Store the customer's message once per client_id; True when it is new."""
    return await _post(conversation_id, Message.Role.CUSTOMER, client_id, text)


async def post_agent_message(*, conversation_id, user_id: int, client_id, text) -> bool:
    """Store an agent's plain message in a chat they take part in; True when it is new."""
    return await _post(conversation_id, Message.Role.AGENT, client_id, text, user_id=user_id)


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise services.ChatError("not_found", _("No such conversation.")) from None


async def _post(conversation_id, role: str, client_id, text, *, user_id: int | None = None) -> bool:
    post = Post(
        conversation_id=_uuid(conversation_id),
        role=role,
        text=services.validate_text(text),
        client_id=services.validate_client_id(client_id),
        user_id=user_id,
    )
    loop = asyncio.get_running_loop()
    post.future = loop.create_future()
    _writer(loop).put(post)
    outcome = await post.future
    if outcome == CREATED:
        return True
    if outcome == DUPLICATE:
        return False
    raise _error(outcome)


def _error(outcome: str) -> services.ChatError:
    messages = {
        NOT_FOUND: _("No such conversation."),
        ENDED: _("This chat has ended."),
        FORBIDDEN: _("You are not in this chat."),
        UNAVAILABLE: _("The message could not be stored just now; send it again."),
    }
    return services.ChatError(outcome, messages[outcome])


# --- the writer, one per event loop -----------------------------------------------------

_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = weakref.WeakKeyDictionary()


def _writer(loop: asyncio.AbstractEventLoop) -> _Writer:
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = _Writer(loop)
    return writer


class _Writer:
    """Two stages: write a batch on the database thread, then publish it while the next
    batch is written. The publisher takes batches in the order they were written."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.pending: list[Post] = []
        self.wake = asyncio.Event()
        self.written: asyncio.Queue = asyncio.Queue()
        self.tasks = [loop.create_task(self._write_loop()), loop.create_task(self._publish_loop())]

    def put(self, post: Post) -> None:
        self.pending.append(post)
        self.wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    outcomes = await self.loop.run_in_executor(_executor, _write_on_own_thread, batch)
                except Exception:
                    logger.exception("storing %d chat message(s) failed", len(batch))
                    outcomes = [(UNAVAILABLE, None)] * len(batch)
                await self.written.put((batch, outcomes))

    async def _publish_loop(self) -> None:
        while True:
            batch, outcomes = await self.written.get()
            for _post, (outcome, frame) in zip(batch, outcomes, strict=True):
                if outcome == CREATED:
                    try:
                        await send_stored(services.conv_group(frame["conversation_id"]), frame)
                    except Exception as error:
                        # Stored is what counts: kept and sent again once Redis is back.
                        logger.warning("publishing message %s failed: %s", frame["id"], error)
            for post, (outcome, _frame) in zip(batch, outcomes, strict=True):
                if not post.future.done():
                    post.future.set_result(outcome)


# --- the database thread ----------------------------------------------------------------


def write_batch(posts: list[Post]) -> list[tuple[str, dict | None]]:
    """Store `posts` in one transaction; one (outcome, agent frame) per post, in order.

    A lost race with a resend on another process (the unique client_id) or a deadlock with
    another transaction rolls the batch back; the second try sees the other side's commit.
    """
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _write(posts)
        except DATABASE_ERRORS as error:
            if attempt == 2 or not _retryable(error):
                raise
    raise AssertionError("unreachable")


# The batch speaks to psycopg directly (pipelines), so its errors come unwrapped by Django.
DATABASE_ERRORS = (DatabaseError, psycopg.DatabaseError)
CONNECTION_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _write_on_own_thread(posts: list[Post]) -> list[tuple[str, dict | None]]:
    """The writer keeps its connection from batch to batch (one thread, one connection out of
    the pool). A connection that died while idle (a restarted or failed-over database) costs
    nobody an error: the batch is tried once more on a fresh one. Posts with a client_id are
    stored once even if the failure hid a commit; the senders learn of any other failure
    (`unavailable`) and send again."""
    for attempt in (1, 2):
        try:
            return write_batch(posts)
        except CONNECTION_ERRORS:
            connection.close()
            if attempt == 2:
                raise
        except Exception:
            connection.close()
            raise
    raise AssertionError("unreachable")


def _retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError | psycopg.IntegrityError):
        return True  # a resend stored by another process meanwhile: the retry sees it
    sqlstate = getattr(error, "sqlstate", None) or getattr(error.__cause__, "sqlstate", None)
    return sqlstate in ("40P01", "40001")  # deadlock detected, serialization failure


def _write(posts: list[Post]) -> list[tuple[str, dict | None]]:
    conversation_ids = sorted({post.conversation_id for post in posts})
    client_ids = [post.client_id for post in posts if post.client_id is not None]
    agent_ids = sorted({post.user_id for post in posts if post.role == Message.Role.AGENT})
    raw = connection.connection
    # One round trip for the three reads. The server runs them in order, so the two after
    # the lock see whatever a writer we waited for committed (READ COMMITTED: a new snapshot
    # per statement).
    with raw.pipeline():
        locked = _execute(
            raw,
            "SELECT c.id, c.state, c.last_seq, c.customer_seen_at, ct.name FROM chat_conversation c "
            "LEFT JOIN routing_contact ct ON ct.id = c.contact_id "
            "WHERE c.id = ANY(%s) ORDER BY c.id FOR NO KEY UPDATE OF c",
            [conversation_ids],
        )
        stored_rows = _execute(
            raw,
            "SELECT conversation_id, client_id FROM chat_message WHERE conversation_id = ANY(%s) "
            "AND client_id = ANY(%s::uuid[])",
            [conversation_ids, client_ids],
        )
        participant_rows = _execute(
            raw,
            "SELECT conversation_id, agent_id, role, shown_name FROM chat_participant "
            "WHERE left_at IS NULL AND conversation_id = ANY(%s) AND agent_id = ANY(%s::integer[])",
            [conversation_ids, agent_ids],
        )
    conversations = {
        row[0]: {"state": row[1], "last_seq": row[2], "seen_at": row[3], "contact_name": row[4]}
        for row in locked.fetchall()
    }
    stored: set[tuple[uuid.UUID, uuid.UUID]] = set(stored_rows.fetchall())
    participants = {(row[0], row[1]): (row[2], row[3]) for row in participant_rows.fetchall()}

    outcomes: list[tuple[str, dict | None]] = []
    messages: list[Message] = []
    for post in posts:
        conversation = conversations.get(post.conversation_id)
        if conversation is None:
            outcomes.append((NOT_FOUND, None))
            continue
        if post.role == Message.Role.AGENT:
            participant = participants.get((post.conversation_id, post.user_id))
            if participant is None or participant[0] == Participant.Role.CONSULTANT:
                outcomes.append((FORBIDDEN, None))
                continue
            name = participant[1]
        else:
            name = conversation["contact_name"] or ""
        if conversation["state"] == Conversation.State.ENDED:
            outcomes.append((ENDED, None))
            continue
        if post.client_id is not None:
            key = (post.conversation_id, post.client_id)
            if key in stored:
                outcomes.append((DUPLICATE, None))
                continue
            stored.add(key)  # the same client_id twice in one batch: the second is a resend
        conversation["last_seq"] += 1
        conversation.setdefault("posted_by", set()).add(post.role)
        messages.append(
            Message(
                conversation_id=post.conversation_id,
                seq=conversation["last_seq"],
                client_id=post.client_id,
                author_role=post.role,
                author_user_id=post.user_id,
                author_name=name,
                text=post.text,
            )
        )
        outcomes.append((CREATED, None))
    if not messages:
        return outcomes

    _insert(messages, conversations)
    frames = iter(message_frame(message, for_agent=True) for message in messages)
    outcomes = [(outcome, next(frames) if outcome == CREATED else None) for outcome, _ in outcomes]
    created = [frame for outcome, frame in outcomes if outcome == CREATED]
    for frame in created:
        webhooks.emit(Event.MESSAGE_CREATED, services.message_data(frame))
    _push_to_away_customers(
        [frame for frame in created if frame["author"]["role"] == Message.Role.AGENT], conversations
    )
    return outcomes


def _insert(messages: list[Message], conversations: dict) -> None:
    """The messages and the conversations' new seqs in one round trip; a customer who spoke
    counts as present and their silence (W11) restarts."""
    now = timezone.now()
    changed = [
        (pk, c["last_seq"], Message.Role.CUSTOMER in c["posted_by"])
        for pk, c in conversations.items()
        if "posted_by" in c
    ]
    raw = connection.connection
    with raw.pipeline():
        inserted = _execute(
            raw,
            "INSERT INTO chat_message (conversation_id, seq, client_id, author_role, author_user_id, author_name, "
            "text, link_url, internal, sent_at) "
            "SELECT v.*, '', false, %s FROM unnest(%s::uuid[], %s::integer[], %s::uuid[], %s::text[], "
            "%s::integer[], %s::text[], %s::text[]) AS v RETURNING id, conversation_id, seq",
            [
                now,
                [m.conversation_id for m in messages],
                [m.seq for m in messages],
                [m.client_id for m in messages],
                [m.author_role for m in messages],
                [m.author_user_id for m in messages],
                [m.author_name for m in messages],
                [m.text for m in messages],
            ],
        )
        _execute(
            raw,
            "UPDATE chat_conversation c SET last_seq = v.last_seq, "
            "customer_seen_at = CASE WHEN v.customer THEN now() ELSE c.customer_seen_at END, "
            "last_customer_message_at = CASE WHEN v.customer THEN %s ELSE c.last_customer_message_at END, "
            "inactivity_warned_at = CASE WHEN v.customer THEN NULL ELSE c.inactivity_warned_at END "
            "FROM unnest(%s::uuid[], %s::integer[], %s::boolean[]) AS v(id, last_seq, customer) WHERE c.id = v.id",
            [now, [row[0] for row in changed], [row[1] for row in changed], [row[2] for row in changed]],
        )
    ids = {(row[1], row[2]): row[0] for row in inserted.fetchall()}
    for message in messages:
        message.pk, message.sent_at = ids[(message.conversation_id, message.seq)], now


def _execute(raw: psycopg.Connection, query: str, params: list) -> psycopg.Cursor:
    """Run one statement of a pipeline with its parameters bound by the server. Django's
    connections bind on the client (every value formatted into the SQL text in Python),
    which was a tenth of the relay's CPU; bound parameters are also prepared after a few
    runs, so PostgreSQL stops parsing and planning the same five statements."""
    return psycopg.Cursor(raw).execute(query, params)


def _push_to_away_customers(agent_frames: list[dict], conversations: dict) -> None:
    """An agent wrote while the customer's app is closed: wake it (W10), as
    `services.customer_away` decides it."""
    if not agent_frames:
        return
    ids = sorted({frame["conversation_id"] for frame in agent_frames})
    stale_before = timezone.now() - datetime.timedelta(seconds=services.CUSTOMER_STALE_SECONDS)
    away = []
    for pk, count in zip(ids, services.customer_sockets(ids), strict=True):
        conversation = conversations[uuid.UUID(pk)]
        seen = timezone.now() if Message.Role.CUSTOMER in conversation["posted_by"] else conversation["seen_at"]
        if seen is None or seen < stale_before or count <= 0:
            away.append(pk)
    if not away:
        return
    by_id = {str(c.pk): c for c in Conversation.objects.filter(pk__in=away).select_related("widget")}
    for frame in agent_frames:
        conversation = by_id.get(frame["conversation_id"])
        if conversation is not None:
            services.push_customer(conversation, frame)
