"""The relay's hot path: chat messages stored in batches, published in seq order.

Customers' messages and agents' plain messages are nearly all of a contact center's traffic.
A socket hands its message to the process's writer and waits. The writer takes everything
that gathered while the previous batch was being written and stores it on a database thread
of its own, in one statement (`chat_post_messages`, chat/migrations/0008): lock the batch's
conversations in id order, skip client_ids stored already, take seqs, insert the messages,
update the conversations. After the commit a publisher sends the frames in seq order and
only then wakes the senders, so nothing is acknowledged (PROTOCOL.md: the stored message
comes back as the acknowledgement) before it is stored. One round trip per batch; under
light load a batch is one message.

Notes, links and consultants' lines take `services.message_post_by_agent`, which this
module agrees with on every rule (who may write, names, seqs, webhooks, pushes).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import logging
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson
import psycopg
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.realtime import send_stored_many
from webhooks import services as webhooks
from webhooks.models import Event

from . import services
from .frames import message_frame
from .models import Conversation, Message

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # posts per transaction; more wait for the next one
# Under load a batch waits a moment for more before it is written: a batch of one costs the
# writer and PostgreSQL about three times as much per message as a batch of five
# (bench/relay_writer.py). Light traffic (a small desk) never waits.
GATHER_SECONDS = 0.004
# Posts per second reaching this process's writer. Below it the wait cost p50 about 3 ms for
# no clear gain (docs/performance.md, change 18); near the machine's limit it saves a sixth.
GATHER_FROM_RATE = 300
RATE_WINDOW_SECONDS = 0.25
LOOK_AGAIN_SECONDS = 1.0  # a failed batch is looked at again this often …
LOOK_AGAIN_TRIES = 120  # … until the database answers, for up to two minutes
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
    """Two stages: write a batch, then publish it while the next batch is written. The
    publisher takes batches in the order they were written.

    A batch with nothing else to record (no webhook due) is stored from the event loop
    itself, on an async connection of the writer's own in autocommit: no thread hop, no
    GIL hand-over, one round trip. A batch with webhooks to record takes the database
    thread, where the messages and the deliveries commit together (`write_batch`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.pending: list[Post] = []
        self.wake = asyncio.Event()
        self.written: asyncio.Queue = asyncio.Queue()
        self.connection: psycopg.AsyncConnection | None = None
        self.looking_again: set[asyncio.Task] = set()
        self.arrived, self.window_start, self.rate = 0, loop.time(), 0.0
        self.batches = self.posts_written = self.gathered = 0  # for tests
        # Process-wide tasks: not in the context (the language) of the socket that started them.
        self.tasks = [
            loop.create_task(self._write_loop(), context=contextvars.Context()),
            loop.create_task(self._publish_loop(), context=contextvars.Context()),
        ]

    async def _store(self, batch: list[Post]) -> list[tuple[str, dict | None]]:
        if _webhooks_due(batch, known_only=True) is False:
            return await self._store_in_loop(batch)
        return await self.loop.run_in_executor(_executor, _write_on_own_thread, batch)

    async def _store_in_loop(self, posts: list[Post]) -> list[tuple[str, dict | None]]:
        """As `_write_on_own_thread` does it: a connection that died while idle is replaced
        and the batch tried once more; so is a lost resend race or a deadlock."""
        for attempt in (1, 2):
            try:
                if self.connection is None or self.connection.closed:
                    self.connection = await psycopg.AsyncConnection.connect(**_async_connection_params())
                cursor = await self.connection.execute(POST_MESSAGES, [_batch_parameter(posts)])
                return _outcomes(posts, await cursor.fetchall())[0]
            except DATABASE_ERRORS as error:
                if attempt == 2:
                    raise
                if _retryable(error):
                    continue
                if not isinstance(error, CONNECTION_ERRORS):
                    raise
                await self._close()
        raise AssertionError("unreachable")

    async def _close(self) -> None:
        connection_, self.connection = self.connection, None
        if connection_ is not None:
            with contextlib.suppress(Exception):
                await connection_.close()

    def _look_again(self, batch: list[Post]) -> None:
        """A failed batch may have committed all the same (the connection went after the
        commit, before its answer). The senders were told to send again, and a resend is
        stored once; but if nobody sends again, the others in the chat would not see the
        message until a later one showed them the gap. So once the database answers again,
        whatever of the batch was stored is published. Resends found stored are published
        again the same way."""
        keys = {(post.conversation_id, post.client_id) for post in batch if post.client_id is not None}
        if keys:
            task = self.loop.create_task(self._publish_if_stored(keys))
            self.looking_again.add(task)
            task.add_done_callback(self.looking_again.discard)

    async def _publish_if_stored(self, keys: set[tuple[uuid.UUID, uuid.UUID]]) -> None:
        for _attempt in range(LOOK_AGAIN_TRIES):
            await asyncio.sleep(LOOK_AGAIN_SECONDS)
            try:
                frames = await self.loop.run_in_executor(_executor, _stored_frames, keys)
            except Exception as error:  # still away
                logger.debug("looking again at a failed batch: %s", error)
                continue
            if frames:
                logger.info("%d message(s) of a failed batch were stored after all; publishing them", len(frames))
                await send_stored_many([(services.conv_group(frame["conversation_id"]), frame) for frame in frames])
            return
        logger.warning("a failed batch could not be looked at again; a resume will bring what it stored")

    async def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the in-loop connection (for tests)."""
        return None if self.connection is None or self.connection.closed else self.connection.info.backend_pid

    def put(self, post: Post) -> None:
        self.pending.append(post)
        self.arrived += 1
        self.wake.set()

    def arrival_rate(self) -> float:
        """Posts per second over the last window of at least RATE_WINDOW_SECONDS; a long
        quiet spell counts in full, so the first post after it does not wait."""
        now = self.loop.time()
        if now - self.window_start >= RATE_WINDOW_SECONDS:
            self.rate = self.arrived / (now - self.window_start)
            self.arrived, self.window_start = 0, now
        return self.rate

    async def _write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.pending and self.arrival_rate() >= GATHER_FROM_RATE:
                self.gathered += 1
                await asyncio.sleep(GATHER_SECONDS)
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                self.batches, self.posts_written = self.batches + 1, self.posts_written + len(batch)
                try:
                    outcomes = await self._store(batch)
                except Exception:
                    logger.exception("storing %d chat message(s) failed", len(batch))
                    outcomes = [(UNAVAILABLE, None)] * len(batch)
                    self._look_again(batch)
                else:
                    # A resend: its first try may have been stored without being published
                    # (an answer lost, then a retry that found it). Seen twice is harmless.
                    resent = [post for post, (outcome, _) in zip(batch, outcomes, strict=True) if outcome == DUPLICATE]
                    if resent:
                        self._look_again(resent)
                await self.written.put((batch, outcomes))

    async def _publish_loop(self) -> None:
        while True:
            batch, outcomes = await self.written.get()
            frames = [frame for outcome, frame in outcomes if outcome == CREATED]
            if frames:
                try:
                    await send_stored_many([(services.conv_group(frame["conversation_id"]), frame) for frame in frames])
                except Exception as error:
                    # Stored is what counts: kept and sent again once Redis is back.
                    logger.warning("publishing %d message(s) failed: %s", len(frames), error)
            for post, (outcome, _frame) in zip(batch, outcomes, strict=True):
                if not post.future.done():
                    post.future.set_result(outcome)


# --- the database thread ----------------------------------------------------------------


def write_batch(posts: list[Post]) -> list[tuple[str, dict | None]]:
    """Store `posts`; one (outcome, agent frame) per post, in order.

    The batch is one statement (`chat_post_messages`, chat/migrations/0008). With nothing
    else to record it runs alone in autocommit, one round trip; when webhooks are due it
    runs in a transaction with their deliveries. A lost race with a resend on another
    process (the unique client_id) or a deadlock with another transaction rolls the batch
    back; the second try sees the other side's commit.
    """
    alone = not connection.in_atomic_block and not _webhooks_due(posts)
    for attempt in (1, 2):
        try:
            if alone:
                return _write(posts, alone=True)
            with transaction.atomic():
                return _write(posts, alone=False)
        except DATABASE_ERRORS as error:
            if attempt == 2 or not _retryable(error):
                raise
    raise AssertionError("unreachable")


def _webhooks_due(posts: list[Post], *, known_only: bool = False) -> bool | None:
    """Whether the batch records webhook deliveries. With `known_only`, None when the
    answer needs a fresh look at the endpoints (the database)."""
    subscribed = webhooks.subscribed_if_known if known_only else webhooks.subscribed
    created = subscribed(Event.MESSAGE_CREATED)
    if created is None or created:
        return created
    if not any(post.role == Message.Role.AGENT for post in posts):
        return False
    return subscribed(Event.PUSH_AGENT_MESSAGE)


def _stored_frames(keys: set[tuple[uuid.UUID, uuid.UUID]]) -> list[dict]:
    """The agent frames of the (conversation, client_id) messages that are stored, in seq order."""
    conversation_ids = sorted({conversation_id for conversation_id, _ in keys})
    client_ids = [client_id for _, client_id in keys]
    try:
        stored = Message.objects.filter(conversation_id__in=conversation_ids, client_id__in=client_ids).order_by(
            "conversation_id", "seq"
        )
        return [
            message_frame(message, for_agent=True)
            for message in stored
            if (message.conversation_id, message.client_id) in keys
        ]
    except CONNECTION_ERRORS:
        connection.close()
        raise


def _async_connection_params() -> dict:
    params = connections["default"].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return {**params, "autocommit": True}


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


POST_MESSAGES = "SELECT * FROM chat_post_messages(%s::jsonb)"


def _batch_parameter(posts: list[Post]) -> str:
    return orjson.dumps(
        [
            {"c": str(post.conversation_id), "r": post.role, "t": post.text, "k": post.client_id, "u": post.user_id}
            for post in posts
        ]
    ).decode()


def _write(posts: list[Post], *, alone: bool) -> list[tuple[str, dict | None]]:
    connection.ensure_connection()
    raw = connection.connection
    if alone:
        rows = _execute(raw, POST_MESSAGES, [_batch_parameter(posts)]).fetchall()
    else:
        with raw.pipeline():  # BEGIN and the batch in one round trip
            cursor = _execute(raw, POST_MESSAGES, [_batch_parameter(posts)])
        rows = cursor.fetchall()
    outcomes, seen_before, spoke = _outcomes(posts, rows)
    created = [frame for outcome, frame in outcomes if outcome == CREATED]
    if alone or not created:
        return outcomes
    for frame in created:
        webhooks.emit(Event.MESSAGE_CREATED, services.message_data(frame))
    agent_frames = [frame for frame in created if frame["author"]["role"] == Message.Role.AGENT]
    _push_to_away_customers(agent_frames, seen_before, spoke)
    return outcomes


class _StoredMessage(NamedTuple):
    """What `message_frame` reads of a stored message. Building a `Message` model for it cost
    more than the rest of the frame (docs/performance.md, change 23)."""

    pk: int
    conversation_id: uuid.UUID
    seq: int
    client_id: uuid.UUID | None
    author_role: str
    author_name: str
    text: str
    sent_at: datetime.datetime
    link_url: str = ""
    internal: bool = False


def _outcomes(posts: list[Post], rows: list[tuple]) -> tuple[list[tuple[str, dict | None]], dict, set]:
    """The function's rows as (outcome, agent frame) per post; also, per conversation, when
    the customer was last seen before the batch and whether they spoke in it."""
    outcomes: list[tuple[str, dict | None]] = []
    seen_before: dict[uuid.UUID, datetime.datetime | None] = {}
    spoke: set[uuid.UUID] = set()
    for post, (outcome, pk, seq, name, sent_at, seen_at) in zip(posts, rows, strict=True):
        if outcome != CREATED:
            outcomes.append((outcome, None))
            continue
        message = _StoredMessage(pk, post.conversation_id, seq, post.client_id, post.role, name, post.text, sent_at)
        outcomes.append((CREATED, message_frame(message, for_agent=True)))
        seen_before.setdefault(post.conversation_id, seen_at)
        if post.role == Message.Role.CUSTOMER:
            spoke.add(post.conversation_id)
    return outcomes, seen_before, spoke


def _execute(raw: psycopg.Connection, query: str, params: list) -> psycopg.Cursor:
    """Run one statement with its parameters bound by the server. Django's connections bind
    on the client (every value formatted into the SQL text in Python), which was a tenth of
    the relay's CPU; bound parameters are also prepared after a few runs, so PostgreSQL
    stops parsing and planning the same statement."""
    return psycopg.Cursor(raw).execute(query, params)


def _push_to_away_customers(agent_frames: list[dict], seen_before: dict, spoke: set) -> None:
    """An agent wrote while the customer's app is closed: wake it (W10), as
    `services.customer_away` decides it. A customer who spoke in this batch is present."""
    if not agent_frames:
        return
    ids = sorted({frame["conversation_id"] for frame in agent_frames})
    stale_before = timezone.now() - datetime.timedelta(seconds=services.CUSTOMER_STALE_SECONDS)
    away = []
    for pk, count in zip(ids, services.customer_sockets(ids), strict=True):
        conversation_id = uuid.UUID(pk)
        seen = timezone.now() if conversation_id in spoke else seen_before[conversation_id]
        if seen is None or seen < stale_before or count <= 0:
            away.append(pk)
    if not away:
        return
    by_id = {str(c.pk): c for c in Conversation.objects.filter(pk__in=away).select_related("widget")}
    for frame in agent_frames:
        conversation = by_id.get(frame["conversation_id"])
        if conversation is not None:
            services.push_customer(conversation, frame)
