"""The supervisor's live view over `/ws/supervisor/` (S1, S2; docs/supervision.md).

On connect: an `overview` frame, then every open alarm. After that, every event that can
change a figure (presence, queue membership, alarms, a queue's waiting list, work offered,
taken, handed on or finished) makes the view stale, and the socket sends a fresh overview
at most once per OVERVIEW_MIN_INTERVAL seconds. The sockets of one process share the work:
an overview computed after the change serves every socket that saw it.

From the supervisor: `log_on` and `presence` for an agent (supervision.services), `watch` a
chat live as a hidden listener, `whisper` to its agents (a note), `unwatch`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import weakref

from django.utils.translation import gettext as _

from chat import handover, services
from chat.consumers import CLOSE_FORBIDDEN, ConversationsConsumer, _conversation_id, database_sync_to_async
from chat.frames import conversation_summary, message_frame
from chat.services import ChatError
from routing.alarms import SUPERVISORS, open_alarm_events
from routing.models import Queue
from routing.selectors import is_supervisor
from routing.services import WORK_GROUP

from . import selectors
from .services import PRESENCE_STATES, REASON_MAX, agent_supervise

logger = logging.getLogger(__name__)

OVERVIEW_MIN_INTERVAL = 0.5  # seconds between two overviews on one socket, at least
# ... and at least this many times the last computation took, so a big contact center's
# overview never keeps a database thread busy more than a fifth of the time.
OVERVIEW_COST_FACTOR = 5
OVERVIEW_GATHER = 0.05  # a burst of events (a router run) is one change
# Service levels move with the clock, and the channel layer may drop an event: recount anyway.
OVERVIEW_REFRESH_SECONDS = 15
RECOUNT_ON = frozenset({"presence", "membership", "alarm", "queue_update", "work"})
MAX_QUEUE_IDS = 500


class _Latest:
    """The newest overview computed on one event loop, as wire text."""

    def __init__(self):
        self.lock = asyncio.Lock()
        self.started = -math.inf
        self.seconds = 0.0  # how long the last computation took
        self.text = ""
        self.queue_ids: list[int] = []


_latest: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Latest] = weakref.WeakKeyDictionary()


async def overview_text(*, changed_at: float) -> tuple[str, list[int]]:
    """The overview frame as text, and its queue ids, from a computation started no earlier
    than `changed_at` (the loop's clock): events come after their commit, so such a
    computation sees the change. One computation at a time per loop; the others wait and reuse it."""
    loop = asyncio.get_running_loop()
    latest = _latest.setdefault(loop, _Latest())
    async with latest.lock:
        if latest.started < changed_at:
            started = loop.time()
            frame = await database_sync_to_async(selectors.overview)()
            latest.text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
            latest.queue_ids = [queue["id"] for queue in frame["queues"]]
            latest.started, latest.seconds = started, loop.time() - started
        return latest.text, latest.queue_ids


def overview_interval() -> float:
    latest = _latest.get(asyncio.get_running_loop())
    return max(OVERVIEW_MIN_INTERVAL, OVERVIEW_COST_FACTOR * latest.seconds if latest else 0)


class SupervisorConsumer(ConversationsConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None
        self.changed_at: float | None = None
        self.sent_at = -math.inf
        self.flusher: asyncio.Task | None = None
        self.refresher: asyncio.Task | None = None
        # Chats this socket joined as a listener: it leaves them on unwatch or when it closes.
        self.listening: set[str] = set()

    async def _start(self, user) -> None:
        if not await database_sync_to_async(is_supervisor)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.authenticated = True
        self.user = user
        # Groups first, then the snapshot: a change after it is heard and recounted.
        await self.join(SUPERVISORS)
        await self.join(WORK_GROUP)
        for queue_id in await database_sync_to_async(_active_queue_ids)():
            await self.join(f"queue.{queue_id}")
        await self._send_overview(changed_at=asyncio.get_running_loop().time())
        for frame in await database_sync_to_async(open_alarm_events)():
            await self.send_frame(frame)
        self.refresher = asyncio.create_task(self._refresh())

    async def disconnect(self, code):
        for task in (self.flusher, self.refresher):
            if task is not None:
                task.cancel()
        for conversation_id in list(self.listening):
            await self._stop_listening(conversation_id)
        await super().disconnect(code)

    # --- the overview ---------------------------------------------------------------------

    async def _send_overview(self, *, changed_at: float) -> None:
        text, queue_ids = await overview_text(changed_at=changed_at)
        for queue_id in queue_ids:  # a queue added since connect
            await self.join(f"queue.{queue_id}")
        await self.send(text_data=text)
        self.sent_at = asyncio.get_running_loop().time()

    def _stale(self) -> None:
        self.changed_at = asyncio.get_running_loop().time()
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self.changed_at is not None:
            await asyncio.sleep(max(OVERVIEW_GATHER, self.sent_at + overview_interval() - loop.time()))
            changed_at, self.changed_at = self.changed_at, None
            try:
                await self._send_overview(changed_at=changed_at)
            except Exception:
                logger.exception("sending a supervisor's overview failed")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(OVERVIEW_REFRESH_SECONDS)
            self._stale()

    async def realtime_event(self, message: dict) -> None:
        frame = message["event"]
        kind = frame["type"]
        if await self.access_revoked(frame):
            return
        if kind == "alarm":
            await self.send_frame(frame)
        if kind in RECOUNT_ON:
            self._stale()
            return
        conversation_id = frame.get("conversation_id")
        if conversation_id not in self.conversations:
            return
        if kind in ("message", "event") and not frame.get("internal"):
            await self._conversation_frame(frame)
        elif kind == "typing":
            await self.send_frame({key: value for key, value in frame.items() if key != "user_id"})
        elif kind in ("message", "customer_presence"):  # notes, the customer's window
            await self.send_frame(frame)

    async def _close_conversation(self, conversation_id: str) -> None:
        self.listening.discard(conversation_id)  # the chat ended: nobody is in it any more
        await super()._close_conversation(conversation_id)

    # --- frames from the supervisor -------------------------------------------------------

    async def frame_log_on(self, frame: dict) -> None:
        """`{"agent_id", "queue_ids": [ids] | null (all), "logged_on"}`"""
        agent_id, logged_on, queue_ids = _agent_id(frame), frame.get("logged_on"), frame.get("queue_ids", "")
        if not isinstance(logged_on, bool):
            raise ChatError("invalid", _("logged_on must be true or false."))
        if queue_ids is not None and not (
            isinstance(queue_ids, list) and len(queue_ids) <= MAX_QUEUE_IDS and all(_is_id(q) for q in queue_ids)
        ):
            raise ChatError("invalid", _("queue_ids must be a list of queue ids, or null for all."))
        await database_sync_to_async(agent_supervise)(
            supervisor=self.user, agent_id=agent_id, logged_on=logged_on, queue_ids=queue_ids
        )

    async def frame_presence(self, frame: dict) -> None:
        """`{"agent_id", "state": ready|not_ready|away|offline, "reason"?}`"""
        agent_id, state, reason = _agent_id(frame), frame.get("state"), frame.get("reason", "")
        if state not in PRESENCE_STATES or not isinstance(reason, str) or len(reason) > REASON_MAX:
            raise ChatError("invalid", _("state must be ready, not_ready, away or offline; reason is short text."))
        await database_sync_to_async(agent_supervise)(
            supervisor=self.user, agent_id=agent_id, presence=state, reason=reason
        )

    async def frame_watch(self, frame: dict) -> None:
        """Listen to a chat live: a `watching` frame (the conversation summary), its stored
        frames with notes, then live ones until `unwatch` or its end."""
        conversation_id = _conversation_id(frame)
        watching, joined = await database_sync_to_async(_listen)(conversation_id=conversation_id, user=self.user)
        if joined:
            self.listening.add(conversation_id)
        self.seqs.last.pop(conversation_id, None)  # watching again replays everything
        await self._open_conversation(watching, after_seq=0)

    async def frame_whisper(self, frame: dict) -> None:
        """`{"conversation_id", "client_id", "text"}`: a note to the agents of a watched chat."""
        conversation_id = _conversation_id(frame)
        if conversation_id not in self.conversations:
            raise ChatError("forbidden", _("You are not listening to this chat."))
        again = await database_sync_to_async(_whisper)(
            conversation_id=conversation_id, user=self.user, client_id=frame.get("client_id"), text=frame.get("text")
        )
        if again is not None:  # a resent client_id: the stored note is the acknowledgement
            await self.send_frame(again)

    async def frame_unwatch(self, frame: dict) -> None:
        conversation_id = _conversation_id(frame)
        if conversation_id not in self.conversations:
            raise ChatError("not_found", _("You are not listening to this chat."))
        await self._stop_listening(conversation_id)
        await self._close_conversation(conversation_id)
        await self.send_frame({"type": "unwatched", "conversation_id": conversation_id})

    async def _stop_listening(self, conversation_id: str) -> None:
        if conversation_id not in self.listening:
            return
        self.listening.discard(conversation_id)
        try:
            await database_sync_to_async(handover.conversation_leave)(conversation_id=conversation_id, user=self.user)
        except ChatError:
            pass  # ended meanwhile, or left from the workspace: nothing to leave


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _agent_id(frame: dict) -> int:
    value = frame.get("agent_id")
    if not _is_id(value):
        raise ChatError("invalid", _("agent_id must be an agent's id."))
    return value


def _active_queue_ids() -> list[int]:
    return list(Queue.objects.filter(is_active=True).values_list("pk", flat=True))


def _listen(*, conversation_id: str, user) -> tuple[dict, bool]:
    conversation, joined = handover.monitor_start(conversation_id=conversation_id, supervisor=user)
    return {**conversation_summary(conversation), "type": "watching"}, joined


def _whisper(*, conversation_id: str, user, client_id, text) -> dict | None:
    message, created = services.message_post_by_agent(
        conversation_id=conversation_id, user=user, client_id=client_id, text=text, internal=True
    )
    return None if created else message_frame(message, for_agent=True)
