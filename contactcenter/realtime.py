"""The one way services publish realtime events: after the transaction commits.

Events are plain JSON dicts with a `type`; the service names the recipient groups
(`conv.<id>`, `agent.<user id>`, `queue.<id>`, `supervisors`). Consumers receive them as
`{"type": "realtime.event", "event": {...}}`; the event is the wire frame they forward.

Services are synchronous code. In a server's worker thread they hand their events to the
server's own event loop, where one task per loop sends them in the order they were handed
over; the thread goes back to work at once instead of waiting (holding its database
connection) until a busy loop gets round to it. Elsewhere (Celery, timers, scripts) they
hand them the same way to one event loop per process run by a background thread, so every
publish reuses the same Redis connections instead of building a loop and a connection per
call; a process that exits first sends what it handed over (up to PUBLISH_TIMEOUT_SECONDS).

A stored frame (one with a `seq`) that cannot be published because Redis is away is kept and
sent again once Redis is back (`send_stored`). A resume would repair the gap too, but only
when the socket drops or the next frame of that chat shows it; a quiet chat would otherwise
not see a message stored during the outage. Consumers drop a seq they have already shown,
so a late copy is harmless. Other events (typing, presence, waiting lists) are not kept:
late they would be wrong.

A process can also stop *hearing* Redis: after a restart its subscriptions come back a moment
later than its publishes, and whatever was published in between is gone. `watch` registers
a socket with its loop's watch, which pings itself through the channel layer every second;
when pings come back after failing, every registered socket catches up from PostgreSQL
(`catch_up()`), so nothing published in the gap is missed.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import contextvars
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 10
_captures: list[list[tuple[str, dict]]] = []
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_loop_lock = threading.Lock()


def publish_on_commit(*, groups: Iterable[str], event: dict) -> None:
    """Send `event` to every group once the surrounding transaction commits (at once if none)."""
    groups = list(groups)
    transaction.on_commit(lambda: publish_now(groups=groups, event=event), robust=True)


def publish_many_on_commit(items: list[tuple[str, dict]]) -> None:
    """Send each (group, event), in order, once the surrounding transaction commits."""
    if items:
        transaction.on_commit(lambda: publish_many(items), robust=True)


def publish_now(*, groups: Iterable[str], event: dict) -> None:
    publish_many([(group, event) for group in groups])


def publish_many(items: list[tuple[str, dict]]) -> None:
    """Send each (group, event) in order. At-most-once by design: stored rows and resume by
    seq repair a publish that is lost."""
    for captured in _captures:
        captured.extend(items)
    if not items:
        return
    try:
        main_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
        loop = main_loop if main_loop is not None and main_loop.is_running() else _publisher_loop()
        loop.call_soon_threadsafe(_hand_over, loop, items)
    except Exception:
        logger.exception("publishing %d event(s) failed", len(items))


async def _send_all(items: list[tuple[str, dict]]) -> None:
    await send_stored_many(items)


# Frames kept while Redis is away, per event loop; beyond the bound the oldest go (they are
# stored: a resume brings them).
BACKLOG_MAX = 50_000
BACKLOG_RETRY_SECONDS = 0.5


class _Backlog:
    def __init__(self) -> None:
        self.items: collections.deque[tuple[str, dict]] = collections.deque(maxlen=BACKLOG_MAX)
        self.retrying: asyncio.Task | None = None

    def keep(self, group: str, event: dict) -> None:
        if len(self.items) == BACKLOG_MAX:
            logger.warning("the realtime backlog is full; the oldest frame is left to resumes")
        self.items.append((group, event))
        if self.retrying is None or self.retrying.done():
            # Process-wide: not in the context (the language) of the socket that started it.
            self.retrying = asyncio.get_running_loop().create_task(self._retry(), context=contextvars.Context())

    async def _retry(self) -> None:
        layer = get_channel_layer()
        while self.items:
            await asyncio.sleep(BACKLOG_RETRY_SECONDS)
            try:
                while self.items:
                    group, event = self.items[0]
                    await layer.group_send(group, {"type": "realtime.event", "event": event})
                    self.items.popleft()
            except Exception as error:  # Redis still away; try again later
                logger.debug("realtime backlog of %d: %s", len(self.items), error)
        logger.info("the realtime backlog is sent")


_backlogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Backlog] = weakref.WeakKeyDictionary()


def _backlog() -> _Backlog:
    loop = asyncio.get_running_loop()
    backlog = _backlogs.get(loop)
    if backlog is None:
        backlog = _backlogs[loop] = _Backlog()
    return backlog


# --- noticing that this process no longer hears the channel layer --------------------------

WATCH_INTERVAL_SECONDS = 1.0
WATCH_TIMEOUT_SECONDS = 2.0


class _Watch:
    def __init__(self) -> None:
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        # Process-wide: not in the context (the language) of the socket that started it.
        self.task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())

    async def _run(self) -> None:
        layer = get_channel_layer()
        channel: str | None = None
        deaf = False
        while True:
            await asyncio.sleep(WATCH_INTERVAL_SECONDS)
            try:
                if channel is None:
                    channel = await layer.new_channel("watch.")
                await layer.send(channel, {"type": "watch.ping"})
                async with asyncio.timeout(WATCH_TIMEOUT_SECONDS):
                    await layer.receive(channel)
            except TimeoutError:
                # Slow (an overloaded process) is not deaf: only a failure to reach Redis
                # starts a gap, or a subscription not yet back after one keeps it open.
                channel = None  # an interrupted receive gives up its subscription
                continue
            except Exception as error:  # Redis away
                channel = None
                if not deaf:
                    logger.warning("this process no longer hears the channel layer: %r", error)
                deaf = True
                continue
            if deaf:
                deaf = False
                sockets = list(self.sockets)
                logger.warning("the channel layer is heard again; %d socket(s) catch up", len(sockets))
                for socket in sockets:
                    try:
                        await socket.catch_up()
                    except Exception:
                        logger.exception("a socket could not catch up")


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()


def watch(socket) -> None:
    """Have `socket.catch_up()` awaited whenever this process hears the channel layer again
    after a gap. Held weakly: a closed socket drops out by itself."""
    loop = asyncio.get_running_loop()
    if loop not in _watches:
        _watches[loop] = _Watch()
    _watches[loop].sockets.add(socket)


async def send_stored(group: str, event: dict) -> None:
    """group_send; a stored frame that fails is kept and sent once Redis is back. Raises
    what group_send raised, for the caller to log."""
    try:
        await get_channel_layer().group_send(group, {"type": "realtime.event", "event": event})
    except Exception:
        if "seq" in event:
            _backlog().keep(group, event)
        raise


async def send_stored_many(items: list[tuple[str, dict]]) -> None:
    """send_stored for several (group, event), in order and in one round trip where the
    layer can (`contactcenter.channel_layer`). On a failure every stored frame among them
    is kept: which of them Redis took is unknown, and a frame seen twice is dropped."""
    layer = get_channel_layer()
    send_many = getattr(layer, "group_send_many", None)
    if send_many is None or len(items) == 1:
        for group, event in items:
            await send_stored(group, event)
        return
    try:
        await send_many([(group, {"type": "realtime.event", "event": event}) for group, event in items])
    except Exception:
        for group, event in items:
            if "seq" in event:
                _backlog().keep(group, event)
        raise


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue] = weakref.WeakKeyDictionary()


def _hand_over(loop: asyncio.AbstractEventLoop, items: list[tuple[str, dict]]) -> None:
    """On `loop`'s thread: queue `items` for the loop's sender, started on first use."""
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = asyncio.Queue()
        loop.create_task(_send_forever(outbox))
    outbox.put_nowait(items)


async def _send_forever(outbox: asyncio.Queue) -> None:
    while True:
        items = await outbox.get()
        try:
            await _send_all(items)
        except Exception:
            logger.exception("publishing %d event(s) failed", len(items))
        finally:
            outbox.task_done()


def flush(timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
    """Wait until the background loop has sent everything handed to it (at exit, in tests)."""
    loop = _loop
    if loop is None or _loop_pid != os.getpid() or not loop.is_running():
        return

    async def drained() -> None:
        outbox = _outboxes.get(loop)
        if outbox is not None:
            await outbox.join()

    try:
        asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout)
    except Exception:
        logger.warning("some realtime events were not sent before the process stopped")


def _publisher_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _loop_lock:
        # A forked child (a Celery worker) starts its own loop; the parent's thread is not there.
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="realtime-publisher", daemon=True).start()
            atexit.register(flush)
        return _loop


@contextlib.contextmanager
def capture() -> Iterator[list[tuple[str, dict]]]:
    """Record every (group, event) published inside the block, besides sending it (for tests)."""
    captured: list[tuple[str, dict]] = []
    _captures.append(captured)
    try:
        yield captured
    finally:
        _captures.remove(captured)
