"""The media process: it takes commands for calls from the channel layer (group MEDIA_GROUP),
runs them on the engine in order per call, and reports what the media did to voice/services.

One media process serves all calls for now; `make run` starts it as `manage.py media_worker`.
Calls it held die with it: at start it ends every call still marked live.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from contactcenter import realtime

from .. import sealing, services
from . import ivr
from .engine import AGENT, CALLER, AiortcEngine, MediaEngine

logger = logging.getLogger(__name__)

DB_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="media-db")


def in_thread(func):
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=DB_EXECUTOR)


class ServiceReports:
    """What the engine saw, told to voice/services in a database thread."""

    async def leg_connected(self, call_id: str, leg: str) -> None:
        await in_thread(services.leg_connected)(call_id=call_id, leg=leg)

    async def leg_lost(self, call_id: str, leg: str) -> None:
        await in_thread(services.leg_lost)(call_id=call_id, leg=leg)

    async def wait_figures(self, call_id: str) -> dict | None:
        return await in_thread(services.call_wait_figures)(call_id=call_id)

    async def ivr_done(self, call_id: str, outcome: dict) -> None:
        await in_thread(services.ivr_finished)(call_id=call_id, outcome=outcome)

    async def recording_done(
        self,
        call_id: str,
        agent_id: int | None,
        audio: bytes,
        started_at: datetime.datetime,
        ended_at: datetime.datetime,
    ) -> None:
        await in_thread(services.recording_seal_and_store)(
            call_id=call_id, agent_id=agent_id, audio=audio, started_at=started_at, ended_at=ended_at
        )


class MediaWorker:
    def __init__(self, engine: MediaEngine | None = None, reports: ServiceReports | None = None):
        self.layer = get_channel_layer()
        self.reports = reports or ServiceReports()
        self.engine = engine or AiortcEngine(self.reports, announcer=self._announcer)
        self.inboxes: dict[str, asyncio.Queue] = {}
        self.runners: set[asyncio.Task] = set()
        self.ready = asyncio.Event()

    async def serve(self) -> None:
        channel = await self.layer.new_channel("media.")
        await self.layer.group_add(services.MEDIA_GROUP, channel)
        ended = await in_thread(services.calls_end_unmanaged)()
        if ended:
            logger.warning("ended %d call(s) a previous media process held", ended)
        self.ready.set()
        logger.info("the media process is ready")
        realtime.watch(self)
        try:
            while True:
                try:
                    message = await self.layer.receive(channel)
                except (ConnectionError, OSError, RedisError) as error:  # Redis away: the layer reconnects
                    logger.warning("the media process cannot hear the channel layer: %r", error)
                    await asyncio.sleep(0.5)
                    continue
                command = message.get("event") or {}
                call_id = command.get("call_id")
                if not isinstance(call_id, str):
                    continue
                self._inbox(call_id).put_nowait(command)
        finally:
            for runner in list(self.runners):
                runner.cancel()
            await asyncio.gather(*self.runners, return_exceptions=True)
            await self.engine.close()
            await self.layer.group_discard(services.MEDIA_GROUP, channel)

    async def catch_up(self) -> None:
        """Heard again after a gap (realtime.watch): commands published meanwhile are lost, so
        every call held here is brought to the state PostgreSQL says it is in."""
        for call_id in list(self.engine.calls):
            self._inbox(call_id).put_nowait({"type": "call.resync", "call_id": call_id})

    def _inbox(self, call_id: str) -> asyncio.Queue:
        """The call's queue of commands, with the task that runs them in order."""
        inbox = self.inboxes.get(call_id)
        if inbox is None:
            inbox = self.inboxes[call_id] = asyncio.Queue()
            runner = asyncio.create_task(self._run_call(call_id, inbox))
            self.runners.add(runner)
            runner.add_done_callback(self.runners.discard)
        return inbox

    async def _resync(self, call_id: str) -> None:
        wanted = await in_thread(services.media_state)(call_id=call_id)
        if wanted is None:
            await self.engine.end(call_id)
            return
        state, mode = wanted["state"], self.engine.mode_of(call_id)
        if state == "talking":
            await self.engine.bridge(
                call_id, record=wanted["record"], masked=wanted["masked"], agent_id=wanted["agent_id"]
            )
        elif state == "on_hold" and mode != "hold":
            await self.engine.hold(call_id)
        elif state == "queued" and mode != "wait":
            await self.engine.wait(call_id, **wanted["waiting"])
        logger.info("call %s resynchronised: %s", call_id, state)

    async def _run_call(self, call_id: str, inbox: asyncio.Queue) -> None:
        """One call's commands, in the order they were published."""
        try:
            while True:
                command = await inbox.get()
                try:
                    await self._do(call_id, command)
                except Exception:
                    logger.exception("media command %s for call %s failed", command.get("type"), call_id)
                ended = command.get("type") == "call.end"
                if ended or (command.get("type") == "call.resync" and call_id not in self.engine.calls):
                    return
        finally:
            self.inboxes.pop(call_id, None)

    async def _do(self, call_id: str, command: dict) -> None:
        kind = command["type"]
        if kind == "leg.open":
            await self._leg_open(call_id, command)
        elif kind == "call.ivr":
            await self.engine.ivr(call_id)
            self.engine.spawn(self.engine._call(call_id), self._walk(call_id, command["flow"]))
        elif kind == "call.wait":
            await self.engine.wait(call_id, music=command.get("music"), announce=command.get("announce"))
        elif kind == "call.bridge":
            await self.engine.bridge(
                call_id, record=command["record"], masked=command["masked"], agent_id=command.get("agent_id")
            )
        elif kind == "call.hold":
            await self.engine.hold(call_id)
        elif kind == "call.record":
            await self.engine.record(
                call_id, record=command["record"], masked=command["masked"], agent_id=command.get("agent_id")
            )
        elif kind == "call.digit":
            await self.engine.digit(call_id, command["digit"])
        elif kind == "call.end":
            await self.engine.end(call_id)
        elif kind == "call.resync":
            await self._resync(call_id)
        elif kind == "monitor.open":
            await self._monitor_open(call_id, command)
        elif kind == "monitor.whisper":
            await self.engine.monitor_whisper(call_id, command["monitor"], command["on"])
        elif kind == "monitor.close":
            await self.engine.monitor_close(call_id, command["monitor"])
        else:
            logger.warning("unknown media command %r", kind)

    async def _walk(self, call_id: str, flow: dict) -> None:
        try:
            outcome = await ivr.walk(self.engine, call_id, flow)
        except Exception:
            logger.exception("call %s: the menu walk failed; the caller goes to the queue", call_id)
            outcome = {"queue": None, "path": [], "collected": {}}
        await self.reports.ivr_done(call_id, outcome)

    def _announcer(self, engine, call_id: str, prompts: dict):
        return ivr.announce(engine, call_id, prompts, lambda: self.reports.wait_figures(call_id))

    async def _leg_open(self, call_id: str, command: dict) -> None:
        leg, reply_group = command["leg"], command["reply_group"]
        frame_type = "sdp" if leg == CALLER else "call_sdp"
        try:
            answer = await self.engine.leg_open(call_id, leg, command["sdp"])
        except Exception as error:
            logger.warning("call %s: the %s's offer could not be answered: %s", call_id, leg, error)
            frame = {"type": "error", "code": "media_failed", "call_id": call_id}
            frame["message"] = _("The call's audio could not be set up.")
            await self._publish(reply_group, frame)
            if leg in (CALLER, AGENT):
                await self.reports.leg_lost(call_id, leg)
            return
        await self._publish(reply_group, {"type": frame_type, "call_id": call_id, "sdp": answer})

    async def _monitor_open(self, call_id: str, command: dict) -> None:
        try:
            answer = await self.engine.monitor_open(call_id, command["monitor"], command["sdp"])
        except Exception as error:
            logger.warning("call %s: a supervisor's offer could not be answered: %s", call_id, error)
            frame = {"type": "error", "code": "media_failed", "call_id": call_id}
            frame["message"] = _("The call's audio could not be set up.")
            await self._publish(command["reply_group"], frame)
            await self.reports.leg_lost(call_id, command["monitor"])
            return
        await self._publish(command["reply_group"], {"type": "call_listen_sdp", "call_id": call_id, "sdp": answer})

    async def _publish(self, group: str, frame: dict) -> None:
        await self.layer.group_send(group, {"type": "realtime.event", "event": frame})


def run() -> None:
    from pathlib import Path

    certificate, key = Path(settings.CC_RECORDINGS_CERTIFICATE or "."), Path(settings.CC_RECORDINGS_PRIVATE_KEY or ".")
    if settings.DEMO_MODE and settings.CC_RECORDINGS_CERTIFICATE and not certificate.exists():
        sealing.write_pair(certificate, key, name="Demo recordings")
        logger.warning("demo mode: made a recordings certificate and key in %s", certificate.parent)

    close_old_connections()
    asyncio.run(MediaWorker().serve())
