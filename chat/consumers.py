"""The two WebSocket edges of chat (PROTOCOL.md): `/ws/chat/` for customers, `/ws/agent/` for
agents. They parse and authorise frames, call services, and forward published events.

Delivery: join the groups first, then replay stored frames after the client's seq, then go
live; a live frame at or below the last seq sent is a duplicate and dropped, a frame beyond
the next seq means the at-most-once layer lost something, which is fetched from the database.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor

import orjson
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from contactcenter import realtime
from routing import services as routing
from routing.alarms import open_alarm_events
from routing.models import AgentProfile, WorkItem
from routing.selectors import agent_queues, can_serve, is_supervisor
from routing.services import RoutingError

from . import access, handover, relay, selectors, services
from .frames import assigned_frame
from .models import Conversation, Message, Participant
from .routing_handlers import offer_frame
from .services import ChatError

logger = logging.getLogger(__name__)


# Frames of different sockets run their services side by side in this pool (each service is
# its own transaction), instead of queueing behind Channels' one shared sync thread. One
# process-wide pool, so the threads, and the database connections they hold, are bounded.
DB_EXECUTOR = ThreadPoolExecutor(max_workers=settings.CC_DB_THREADS, thread_name_prefix="chat-db")


def database_sync_to_async(func):
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=DB_EXECUTOR)


AUTH_TIMEOUT_SECONDS = 10
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
# "Service restart": reconnect now (the workspace then gets a whole fresh snapshot).
CLOSE_RECONNECT = 1012
CUSTOMER_HEARTBEAT_SECONDS = 20
AGENT_HEARTBEAT_SECONDS = 30
MAX_FRAME_BYTES = 32 * 1024


class RateLimiter:
    """A token bucket per connection: `burst` frames at once, `rate` per second after."""

    def __init__(self, *, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _origin(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1").rstrip("/").lower()
    return None


def _same_origin(scope) -> bool:
    """The socket was opened by one of our own pages (cross-site WebSocket hijacking).

    As Django's CSRF check does for forms: the Origin must be this very server — scheme,
    host and port — and the host one of ALLOWED_HOSTS (a rebound DNS name is not), or an
    origin listed in CSRF_TRUSTED_ORIGINS. A look-alike host, another port or plain http
    beside https is another site. No Origin at all is refused too: browsers always send it."""
    origin = _origin(scope)
    if origin is None or origin == "null":
        return False
    host = ""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return origin == f"{scheme}://{host}" or origin in {o.lower() for o in settings.CSRF_TRUSTED_ORIGINS}


def _scope_language(scope) -> str:
    """The socket's language before we know better: the language cookie, then Accept-Language."""
    cookies = scope.get("cookies") or {}
    headers = dict(scope.get("headers", []))
    candidates = [cookies.get(settings.LANGUAGE_COOKIE_NAME, "")]
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _q in translation.trans_real.parse_accept_lang_header(accept)]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class FrameConsumer(AsyncWebsocketConsumer):
    """JSON frames in and out, the auth deadline, the rate limit, error frames."""

    # Errors a frame's handler may raise that become an error frame: each has `code` and `message`.
    frame_errors: tuple[type[Exception], ...] = (ChatError,)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.authenticated = False
        self.limiter = RateLimiter(rate=10, burst=30)
        self.auth_deadline: asyncio.Task | None = None
        self.groups_joined: set[str] = set()
        self.language = settings.LANGUAGE_CODE
        self.closing = False

    @property
    def language(self) -> str:
        return self._language

    @language.setter
    def language(self, code: str) -> None:
        # Errors and other texts in the person's language, the services' gettext included.
        # Each socket runs in a task of its own, whose context holds Django's active
        # language (and hands it to the database threads it calls), so activating it once
        # here does for every later frame what an override per frame did (2 % of a worker's
        # CPU at 1,500 messages/s, docs/performance.md change 25).
        self._language = code
        translation.activate(code)

    async def connect(self):
        self.language = _scope_language(self.scope)
        await self.accept()
        self.auth_deadline = asyncio.create_task(self._close_unless_authenticated())

    async def _close_unless_authenticated(self):
        await asyncio.sleep(AUTH_TIMEOUT_SECONDS)
        if not self.authenticated:
            await self.close(code=CLOSE_UNAUTHORIZED)

    async def disconnect(self, code):
        if self.auth_deadline is not None:
            self.auth_deadline.cancel()
        for group in list(self.groups_joined):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.clear()

    async def join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message):
        # Channels hops to a thread before every handler to close stale database connections;
        # these handlers reach the database only through `database_sync_to_async` and the
        # relay's writer, which both do that themselves, so the hop is only cost here.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_frame(self, frame: dict) -> None:
        if not self.closing:  # nothing may follow our own close
            await self.send(text_data=orjson.dumps(frame).decode())

    async def send_error(self, code: str, message: str, **extra) -> None:
        await self.send_frame({"type": "error", "code": code, "message": message, **extra})

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self.send_error("invalid", _("Frames are JSON text."))
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self.send_error("too_large", _("A frame can be at most %(max)s bytes.") % {"max": MAX_FRAME_BYTES})
            return
        try:
            frame = orjson.loads(text_data)
        except ValueError:
            await self.send_error("invalid", _("Not valid JSON."))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("invalid", _('A frame is a JSON object with a "type".'))
            return
        if not self.authenticated:
            if frame["type"] != "auth":
                await self.close(code=CLOSE_UNAUTHORIZED)
                return
            # The deadline is for the client to send its credentials, not for us to check them.
            if self.auth_deadline is not None:
                self.auth_deadline.cancel()
            await self.authenticate(frame)
            return
        if not self.limiter.allow():
            # With the frame's client_id, so that the client knows which message to send again.
            await self.send_error("rate_limited", _("Too many frames; slow down."), **self._context(frame))
            return
        handler = getattr(self, f"frame_{frame['type']}", None)
        if handler is None:
            await self.send_error("unknown_type", _("Unknown frame type %(type)s.") % {"type": frame["type"][:40]})
            return
        try:
            await handler(frame)
        except self.frame_errors as error:
            await self.send_error(error.code, error.message, **self._context(frame))
        except RoutingError as error:
            await self.send_error(error.code, str(error), **self._context(frame))
        except Conversation.DoesNotExist:
            await self.send_error("not_found", _("No such conversation."), **self._context(frame))

    @staticmethod
    def _context(frame: dict) -> dict:
        context = {}
        for key in ("conversation_id", "client_id", "call_id"):
            if isinstance(frame.get(key), str):
                context[key] = frame[key]
        return context

    async def authenticate(self, frame: dict) -> None:
        raise NotImplementedError


class SeqTracker:
    """The last seq sent per conversation, to drop duplicates and notice gaps."""

    def __init__(self):
        self.last: dict[str, int] = {}

    def get(self, conversation_id: str) -> int:
        return self.last.get(conversation_id, 0)

    def advance(self, conversation_id: str, seq: int) -> None:
        if seq > self.get(conversation_id):
            self.last[conversation_id] = seq


# --- customer ---------------------------------------------------------------------------


class _SeenKeeper:
    """While a customer's socket is open the customer counts as present (A9's grace time).
    One task per event loop marks every open socket's customer seen in one UPDATE every
    CUSTOMER_HEARTBEAT_SECONDS, instead of a task and an UPDATE per socket (at 5,000
    customers that was 250 UPDATEs a second). Held weakly: a socket gone drops out."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[CustomerConsumer] = weakref.WeakSet()
        # Process-wide: not in the context (the language) of the socket that started it.
        self.task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())

    def add(self, socket: CustomerConsumer) -> None:
        self.sockets.add(socket)

    def discard(self, socket: CustomerConsumer) -> None:
        self.sockets.discard(socket)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CUSTOMER_HEARTBEAT_SECONDS)
            conversation_ids = sorted({socket.conversation_id for socket in list(self.sockets)})
            if not conversation_ids:
                continue
            try:
                await database_sync_to_async(services.customers_seen)(conversation_ids=conversation_ids)
            except Exception:  # the database away: the next round marks them
                logger.exception("marking %d customer(s) seen failed", len(conversation_ids))


_seen_keepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SeenKeeper] = weakref.WeakKeyDictionary()


def _kept_seen() -> _SeenKeeper:
    loop = asyncio.get_running_loop()
    keeper = _seen_keepers.get(loop)
    if keeper is None:
        keeper = _seen_keepers[loop] = _SeenKeeper()
    return keeper


class CustomerConsumer(FrameConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conversation_id: str | None = None
        self.seqs = SeqTracker()
        self.counted = False  # counted among the customer's open windows (services.customer_sockets)
        # Frames with a seq leave in order from the socket's own task and from a catch-up
        # (realtime.watch) that runs beside it.
        self.in_order = asyncio.Lock()

    async def authenticate(self, frame: dict) -> None:
        token, after_seq = frame.get("token"), frame.get("after_seq", 0)
        if not isinstance(token, str) or not isinstance(after_seq, int) or after_seq < 0:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        try:
            conversation = await database_sync_to_async(services.conversation_for_customer_token)(token)
        except ChatError:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # An app sends no Origin; a browser page must be one the widget allows, or ours.
        origin = _origin(self.scope)
        allowed = conversation.widget.origins()
        if origin is not None and allowed and origin not in allowed and not _same_origin(self.scope):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.authenticated = True
        self.conversation_id = str(conversation.pk)
        self.language = conversation.locale
        await self.join(services.conv_group(self.conversation_id))
        self.seqs.advance(self.conversation_id, after_seq)
        await self.replay()
        if conversation.state == Conversation.State.QUEUED:
            queue_frame = await database_sync_to_async(selectors.customer_queue_frame)(conversation=conversation)
            if queue_frame:
                await self.send_frame(queue_frame)
        if conversation.state != Conversation.State.ENDED:
            await database_sync_to_async(services.customer_socket_opened)(conversation_id=self.conversation_id)
            self.counted = True
            await database_sync_to_async(services.customer_seen)(conversation_id=self.conversation_id)
            await database_sync_to_async(services.customer_presence_publish)(
                conversation_id=self.conversation_id, online=True
            )
            _kept_seen().add(self)
        realtime.watch(self)

    async def catch_up(self) -> None:
        """The process went deaf for a while: what was published meanwhile comes from the database."""
        await self.replay()

    async def disconnect(self, code):
        _kept_seen().discard(self)
        if self.counted:
            await database_sync_to_async(services.customer_socket_closed)(conversation_id=self.conversation_id)
            await database_sync_to_async(services.customer_presence_publish)(
                conversation_id=self.conversation_id, online=False
            )
        await super().disconnect(code)

    async def replay(self) -> None:
        async with self.in_order:
            await self._replay()

    async def _replay(self) -> None:
        frames = await database_sync_to_async(selectors.items_after)(
            conversation_id=self.conversation_id, after_seq=self.seqs.get(self.conversation_id), for_agent=False
        )
        for frame in frames:
            await self.send_frame(frame)
            self.seqs.advance(self.conversation_id, frame["seq"])

    async def realtime_event(self, message: dict) -> None:
        frame = message["event"]
        kind = frame["type"]
        if kind == "typing":
            if frame["role"] != Message.Role.CUSTOMER:
                await self.send_frame(
                    {"type": "typing", "role": frame["role"], "name": frame["name"], "active": frame["active"]}
                )
            return
        if kind == "queue":
            await self.send_frame(frame)
            return
        if kind not in ("message", "event") or frame.get("internal"):
            return
        async with self.in_order:
            seq = frame["seq"]
            last = self.seqs.get(self.conversation_id)
            if seq <= last:
                return
            if seq > last + 1:
                await self._replay()
                return
            public = {key: value for key, value in frame.items() if key not in ("conversation_id", "id", "internal")}
            await self.send_frame(public)
            self.seqs.advance(self.conversation_id, seq)

    async def frame_message(self, frame: dict) -> None:
        created = await relay.post_customer_message(
            conversation_id=self.conversation_id, client_id=frame.get("client_id"), text=frame.get("text")
        )
        # A new message comes back through the group as the acknowledgement; a resend of one
        # stored earlier is acknowledged from the database.
        if not created:
            await self.replay()

    async def frame_typing(self, frame: dict) -> None:
        active = frame.get("active")
        if not isinstance(active, bool):
            raise ChatError("invalid", _("active must be true or false."))
        await database_sync_to_async(services.typing_publish)(
            conversation_id=self.conversation_id, role=Message.Role.CUSTOMER, name="", active=active
        )

    async def frame_read(self, frame: dict) -> None:
        await database_sync_to_async(services.read_mark)(
            conversation_id=self.conversation_id, role=Message.Role.CUSTOMER, seq=frame.get("seq")
        )

    async def frame_end(self, frame: dict) -> None:
        await database_sync_to_async(services.conversation_end)(
            conversation_id=self.conversation_id, ended_by=Conversation.EndedBy.CUSTOMER
        )
        _kept_seen().discard(self)

    async def frame_rating(self, frame: dict) -> None:
        await database_sync_to_async(services.rating_give)(
            conversation_id=self.conversation_id, score=frame.get("score"), comment=frame.get("comment", "")
        )
        await self.send_frame({"type": "rating", "score": frame["score"]})

    async def frame_transcript(self, frame: dict) -> None:
        await database_sync_to_async(services.transcript_request)(
            conversation_id=self.conversation_id, email=frame.get("email")
        )
        await self.send_frame({"type": "transcript", "email": frame["email"]})


# --- agent ------------------------------------------------------------------------------


class ConversationsConsumer(FrameConsumer):
    """A staff socket that follows whole conversations, notes included: the agent's workspace
    and the supervisor's live view. Signs in by session (from our own pages only) or by a
    token frame, then `_start(user)`. Joins a conversation's groups, replays its stored
    frames after a seq, then forwards live ones in order (duplicates dropped, gaps replayed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seqs = SeqTracker()
        self.conversations: set[str] = set()
        self.signed_in_with: str | None = None  # the API token's fingerprint; None: the session

    async def connect(self):
        self.language = _scope_language(self.scope)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            # A session cookie rides along on any page's socket: only our own pages may use it.
            if not _same_origin(self.scope):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.accept()
            await self._signed_in(user)
            return
        await super().connect()

    async def authenticate(self, frame: dict) -> None:
        key = frame.get("token")
        user = await database_sync_to_async(_user_for_token)(key) if isinstance(key, str) else None
        if user is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.signed_in_with = access.token_fingerprint(key)
        await self._signed_in(user)

    async def _signed_in(self, user) -> None:
        # The access group first: a revocation during the start still reaches this socket.
        await self.join(access.access_group(user.pk))
        await self._start(user)

    async def _start(self, user) -> None:
        raise NotImplementedError

    async def access_revoked(self, frame: dict) -> bool:
        """True for an `access_revoked` event (chat.access); closes the socket if it is
        this socket's access that ended."""
        if frame["type"] != "access_revoked":
            return False
        if frame.get("token") in (None, self.signed_in_with):
            await self.close(code=CLOSE_UNAUTHORIZED)
        return True

    async def _open_conversation(self, opening_frame: dict, *, after_seq: int) -> None:
        conversation_id = opening_frame["conversation_id"]
        self.conversations.add(conversation_id)
        await self.join(services.conv_group(conversation_id))
        await self.join(services.agents_group(conversation_id))
        await self.send_frame(opening_frame)
        await self._replay(conversation_id, after_seq)

    async def _replay(self, conversation_id: str, after_seq: int) -> None:
        frames = await database_sync_to_async(selectors.items_after)(
            conversation_id=conversation_id, after_seq=after_seq, for_agent=True
        )
        for frame in frames:
            await self.send_frame(frame)
            if not frame.get("internal"):
                self.seqs.advance(conversation_id, frame["seq"])

    async def _conversation_frame(self, frame: dict) -> None:
        """A live `message` or `event` (not a note) of a followed conversation."""
        conversation_id = frame["conversation_id"]
        seq, last = frame["seq"], self.seqs.get(conversation_id)
        if seq <= last:
            return
        if seq > last + 1:
            await self._replay(conversation_id, last)
        else:
            await self.send_frame(frame)
            self.seqs.advance(conversation_id, seq)
        if frame["type"] == "event" and frame["event"] == "ended":
            await self._close_conversation(conversation_id)

    async def _close_conversation(self, conversation_id: str) -> None:
        self.conversations.discard(conversation_id)
        await self.leave(services.conv_group(conversation_id))
        await self.leave(services.agents_group(conversation_id))


class AgentConsumer(ConversationsConsumer):
    """An agent's workspace socket: offers, the waiting lists, and every chat the agent is in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None
        self.agent: AgentProfile | None = None
        self.queue_ids: list[int] = []
        self.heartbeat: asyncio.Task | None = None

    async def _start(self, user) -> None:
        snapshot = await database_sync_to_async(_agent_snapshot)(user)
        if snapshot is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.authenticated = True
        self.user, self.agent = user, snapshot["agent"]
        self.queue_ids = snapshot["queue_ids"]
        await database_sync_to_async(routing.agent_socket_opened)(agent=self.agent, socket_id=self.channel_name)
        self.heartbeat = asyncio.create_task(self._keep_alive())
        await self.join(f"agent.{user.pk}")
        if snapshot["supervisor"]:
            await self.join("supervisors")
        for queue_id in self.queue_ids:
            await self.join(f"queue.{queue_id}")
        await self.send_frame(snapshot["presence"])
        for frame in snapshot["queue_updates"]:
            await self.send_frame(frame)
        for frame in snapshot["offers"]:
            await self.send_frame(frame)
        for frame in snapshot["assigned"]:
            await self._open_conversation(frame, after_seq=0)
        for frame in snapshot["invitations"] + snapshot["alarms"]:
            await self.send_frame(frame)
        realtime.watch(self)

    async def catch_up(self) -> None:
        """The process went deaf for a while: offers, assignments, presence and chats may all
        have changed unheard. The workspace reconnects and takes a fresh snapshot."""
        if not self.closing:
            self.closing = True
            await self.close(code=CLOSE_RECONNECT)

    async def _keep_alive(self):
        while True:
            await asyncio.sleep(AGENT_HEARTBEAT_SECONDS)
            await database_sync_to_async(routing.agent_socket_opened)(agent=self.agent, socket_id=self.channel_name)

    async def disconnect(self, code):
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        if self.agent is not None:
            await database_sync_to_async(routing.agent_socket_closed)(agent=self.agent, socket_id=self.channel_name)
        await super().disconnect(code)

    async def realtime_event(self, message: dict) -> None:
        frame = message["event"]
        kind = frame["type"]
        if await self.access_revoked(frame):
            return
        if kind == "assigned":
            await self._open_conversation(frame, after_seq=self.seqs.get(frame["conversation_id"]))
            return
        if kind == "queue":
            return  # customers' own queue positions
        conversation_id = frame.get("conversation_id")
        if kind == "left":  # this agent left a chat others carry on (transfer, conference)
            await self._close_conversation(conversation_id)
            await self.send_frame(frame)
            return
        if kind == "typing":
            if frame.get("user_id") != self.user.pk:
                await self.send_frame({k: v for k, v in frame.items() if k != "user_id"})
            return
        if kind in ("message", "event") and not frame.get("internal"):
            await self._conversation_frame(frame)
            return
        await self.send_frame(frame)

    # frames from the agent

    async def frame_presence(self, frame: dict) -> None:
        state, reason = frame.get("state"), frame.get("reason", "")
        if state not in ("ready", "not_ready", "away") or not isinstance(reason, str):
            raise ChatError("invalid", _("state must be ready, not_ready or away; reason is text."))
        await database_sync_to_async(routing.presence_set)(agent=self.agent, presence=state, reason=reason)

    async def frame_accept(self, frame: dict) -> None:
        item_id = await self._offered_item(frame)
        await database_sync_to_async(routing.offer_accept)(agent=self.agent, item_id=item_id)

    async def frame_decline(self, frame: dict) -> None:
        item_id = await self._offered_item(frame)
        await database_sync_to_async(routing.offer_decline)(agent=self.agent, item_id=item_id)

    async def frame_pick(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        item_id = await database_sync_to_async(_active_item_id)(conversation_id)
        if item_id is None:
            raise RoutingError("taken", _("This chat is no longer waiting."))
        await database_sync_to_async(routing.work_item_pick)(
            agent=self.agent, item_id=item_id, allowed_queue_ids=self.queue_ids
        )

    async def _offered_item(self, frame: dict):
        conversation_id = _conversation_id(frame)
        item_id = await database_sync_to_async(_active_item_id)(conversation_id)
        if item_id is None:
            raise RoutingError("offer_gone", _("This offer is no longer yours."))
        return item_id

    async def frame_message(self, frame: dict, internal: bool = False, link_url: str | None = None) -> None:
        conversation_id = _conversation_id(frame)
        if internal or link_url is not None:
            _, created = await database_sync_to_async(services.message_post_by_agent)(
                conversation_id=conversation_id,
                user=self.user,
                client_id=frame.get("client_id"),
                text=frame.get("text"),
                internal=internal,
                link_url=link_url,
            )
        else:
            created = await relay.post_agent_message(
                conversation_id=conversation_id,
                user_id=self.user.pk,
                client_id=frame.get("client_id"),
                text=frame.get("text"),
            )
        if not created and conversation_id in self.conversations:
            await self._replay(conversation_id, self.seqs.get(conversation_id))

    async def frame_note(self, frame: dict) -> None:
        await self.frame_message(frame, internal=True)

    async def frame_typing(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        if conversation_id not in self.conversations:
            raise ChatError("forbidden", _("You are not in this chat."))
        active = frame.get("active")
        if not isinstance(active, bool):
            raise ChatError("invalid", _("active must be true or false."))
        name = await database_sync_to_async(_shown_name)(conversation_id, self.user)
        await database_sync_to_async(services.typing_publish)(
            conversation_id=conversation_id, role=Message.Role.AGENT, name=name, active=active, user_id=self.user.pk
        )

    async def frame_resume(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        after_seq = frame.get("after_seq", 0)
        if not isinstance(after_seq, int) or after_seq < 0:
            raise ChatError("invalid", _("after_seq must be a non-negative integer."))
        await database_sync_to_async(selectors.conversation_for_agent)(user=self.user, conversation_id=conversation_id)
        if conversation_id in self.conversations:
            self.seqs.last[conversation_id] = after_seq
        await self._replay(conversation_id, after_seq)

    async def frame_read(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        if conversation_id not in self.conversations:
            raise ChatError("forbidden", _("You are not in this chat."))
        await database_sync_to_async(services.read_mark)(
            conversation_id=conversation_id, role=Message.Role.AGENT, seq=frame.get("seq")
        )

    async def frame_end(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        await database_sync_to_async(services.conversation_end)(
            conversation_id=conversation_id, ended_by=Conversation.EndedBy.AGENT, actor=self.user
        )

    async def frame_link(self, frame: dict) -> None:
        """A link under an alias text (W8)."""
        url = frame.get("url")
        await self.frame_message(frame, link_url=url if url is not None else "")

    async def frame_invite(self, frame: dict) -> None:
        """Ask a colleague to take over (transfer), join (conference) or advise (consultation)."""
        receiver_id = frame.get("user_id")
        if not isinstance(receiver_id, int) or isinstance(receiver_id, bool):
            raise ChatError("invalid", _("user_id must be a colleague's id."))
        await database_sync_to_async(handover.invite)(
            conversation_id=_conversation_id(frame),
            sender=self.user,
            receiver_id=receiver_id,
            kind=frame.get("kind"),
            note=frame.get("note"),
        )

    async def frame_invitation_accept(self, frame: dict) -> None:
        await database_sync_to_async(handover.invitation_accept)(invitation_id=_invitation_id(frame), user=self.user)

    async def frame_invitation_decline(self, frame: dict) -> None:
        await database_sync_to_async(handover.invitation_decline)(invitation_id=_invitation_id(frame), user=self.user)

    async def frame_invitation_withdraw(self, frame: dict) -> None:
        await database_sync_to_async(handover.invitation_withdraw)(invitation_id=_invitation_id(frame), user=self.user)

    async def frame_transfer(self, frame: dict) -> None:
        """Send the chat to a queue or a pre-chat category's queue (A6)."""
        queue_id, choice_id, stay = frame.get("queue_id"), frame.get("choice_id"), frame.get("stay", True)
        for value in (queue_id, choice_id):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ChatError("invalid", _("queue_id and choice_id are ids."))
        if not isinstance(stay, bool):
            raise ChatError("invalid", _("stay must be true or false."))
        await database_sync_to_async(handover.transfer_to_queue)(
            conversation_id=_conversation_id(frame),
            user=self.user,
            queue_id=queue_id,
            choice_id=choice_id,
            note=frame.get("note"),
            stay=stay,
        )

    async def frame_leave(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        await database_sync_to_async(handover.conversation_leave)(conversation_id=conversation_id, user=self.user)


def _conversation_id(frame: dict) -> str:
    value = frame.get("conversation_id")
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ChatError("invalid", _("conversation_id is missing or malformed.")) from None


def _invitation_id(frame: dict) -> str:
    value = frame.get("id")
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ChatError("invalid", _("id is missing or malformed.")) from None


def _user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _active_item_id(conversation_id: str):
    return (
        WorkItem.objects.filter(
            channel=WorkItem.Channel.CHAT, reference=conversation_id, state__in=WorkItem.ACTIVE_STATES
        )
        .values_list("pk", flat=True)
        .first()
    )


def _shown_name(conversation_id: str, user) -> str:
    participant = Participant.objects.filter(conversation_id=conversation_id, agent=user, left_at__isnull=True).first()
    return participant.shown_name if participant else user.first_name


def _agent_snapshot(user) -> dict | None:
    """Everything a freshly connected workspace needs, or None if the user may not serve."""
    if not can_serve(user):
        return None
    agent = AgentProfile.objects.filter(user=user).first()
    if agent is None:
        return None
    queues = list(agent_queues(user=user))
    offers = []
    for item in selectors.pending_offers_of(agent=agent):
        conversation = Conversation.objects.select_related("queue", "contact").get(pk=item.reference)
        offers.append(offer_frame(item, conversation))
    assigned = []
    for conversation in selectors.active_conversations_of(user=user):
        frame = assigned_frame(conversation)
        frame["role"] = conversation.my_role
        assigned.append(frame)
    invitations = [handover.invitation_frame(i) for i in handover.pending_invitations_for(user=user)]
    return {
        "agent": agent,
        "supervisor": is_supervisor(user),
        "queue_ids": [queue.pk for queue in queues],
        "presence": {
            "type": "presence",
            "agent_id": agent.pk,
            "state": agent.presence,
            "reason": agent.presence_reason,
            "since": agent.presence_since.isoformat(),
        },
        "queue_updates": [selectors.queue_update_frame(queue=queue) for queue in queues],
        "offers": offers,
        "assigned": assigned,
        "invitations": invitations,
        "alarms": open_alarm_events() if is_supervisor(user) else [],
    }
