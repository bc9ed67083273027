"""The media engine: everything a call needs from media, behind one small interface, so that
another engine (rtpengine at a phone edge, say) can stand in for this aiortc one.

The engine keeps no call state of its own beyond the media: the call's state lives in
PostgreSQL (voice/services.py), which tells the engine what to do with a call — let the caller
wait, bridge, hold, record — and hears back through `Reports` when a party's media comes up or
goes, and when a recording is finished.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import io
import logging
import os
from dataclasses import dataclass, field
from typing import Protocol

from .audio import EncodedClip, Silence, decode, encode_opus
from .legs import Bridge, Feed, Leg, Mix, Recorder
from .music import hold_music

logger = logging.getLogger(__name__)

PROMPT_CACHE_SIZE = 256


@functools.lru_cache(maxsize=PROMPT_CACHE_SIZE)
def _encoded(path: str, mtime: float) -> list[bytes]:
    return encode_opus(decode(path))


def prompt_packets(path: str) -> list[bytes]:
    """A prompt file as Opus packets, decoded and encoded once per process (while the file is
    unchanged): every caller hearing it gets the same packets."""
    return _encoded(path, os.stat(path).st_mtime)


CALLER, AGENT = "caller", "agent"
MONITOR = "monitor:"  # a supervisor's leg: "monitor:<user id>"


class Reports(Protocol):
    async def leg_connected(self, call_id: str, leg: str) -> None: ...

    async def leg_lost(self, call_id: str, leg: str) -> None: ...

    async def recording_done(
        self,
        call_id: str,
        agent_id: int | None,
        audio: bytes,
        started_at: datetime.datetime,
        ended_at: datetime.datetime,
    ) -> None: ...


class MediaEngine(Protocol):
    async def leg_open(self, call_id: str, leg: str, sdp: str) -> str:
        """Answer a party's WebRTC offer; returns the answer. A second offer for the same
        leg replaces the first connection (a reloaded workspace)."""

    async def wait(self, call_id: str, *, music: str | None = None, announce: dict | None = None) -> None:
        """The caller waits in a queue, hearing hold music (a prompt file, or the built-in
        music) and, every `announce["every"]` seconds, their place; an agent leg, if any, goes."""

    async def say(self, call_id: str, prompts: list[str], *, interruptible: bool = True) -> bool:
        """Play prompt files to the caller, one after another; True if all played out, False
        if a key interrupted them (it stays to be read) or the caller went."""

    async def next_digit(self, call_id: str, within: float) -> str | None:
        """The next key the caller pressed, waiting up to `within` seconds; None if none."""

    async def bridge(self, call_id: str, *, record: bool, masked: bool, agent_id: int | None) -> None:
        """Caller and agent hear each other; the recording runs if `record`."""

    async def hold(self, call_id: str) -> None:
        """The caller hears hold music, the agent silence; the recording pauses."""

    async def record(self, call_id: str, *, record: bool, masked: bool, agent_id: int | None) -> None: ...

    async def digit(self, call_id: str, digit: str) -> None: ...

    async def end(self, call_id: str) -> None:
        """Hang up every leg; a recording in progress is finished and reported."""

    async def monitor_open(self, call_id: str, monitor: str, sdp: str) -> str:
        """A supervisor listens: they hear caller and agent; nobody hears them."""

    async def monitor_whisper(self, call_id: str, monitor: str, on: bool) -> None:
        """The listening supervisor speaks to the agent only (the caller never hears it)."""

    async def monitor_close(self, call_id: str, monitor: str) -> None: ...

    def mode_of(self, call_id: str) -> str | None:
        """What the engine does with the call now: ivr, wait, bridge, hold; None if unknown."""


@dataclass
class _Recording:
    recorder: Recorder
    buffer: io.BytesIO
    agent_id: int | None
    started_at: datetime.datetime


@dataclass
class _Monitor:
    leg: Leg
    hears: tuple[Feed, Feed] = field(default_factory=lambda: (Feed(), Feed()))  # caller, agent
    voice: Feed = field(default_factory=Feed)  # what the supervisor says
    whisper: bool = False
    hooks: list = field(default_factory=list)


@dataclass
class _CallMedia:
    call_id: str
    legs: dict[str, Leg] = field(default_factory=dict)
    bridge: Bridge | None = None
    recording: _Recording | None = None
    mode: str = "idle"  # idle, ivr, wait, bridge, hold
    record: bool = False
    masked: bool = False
    agent_id: int | None = None
    digits: asyncio.Queue = field(default_factory=asyncio.Queue)
    digit_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    music: EncodedClip | None = None
    announcing: bool = False
    tasks: set = field(default_factory=set)  # the menu walk, the announcer
    monitors: dict[str, _Monitor] = field(default_factory=dict)


class AiortcEngine:
    """Calls' media in this process, over aiortc."""

    def __init__(self, reports: Reports, announcer=None):
        self.reports = reports
        self.calls: dict[str, _CallMedia] = {}
        self.music = encode_opus(hold_music())
        # announcer(engine, call_id, prompts): tells a waiting caller their place now and then.
        self.announcer = announcer

    def _call(self, call_id: str) -> _CallMedia:
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = _CallMedia(call_id)
        return call

    async def leg_open(self, call_id: str, leg: str, sdp: str) -> str:
        call = self._call(call_id)
        previous = call.legs.pop(leg, None)
        new = Leg(leg)
        call.legs[leg] = new
        if previous is not None:
            await self._drop_leg(call, previous)
        new.connection.on("connectionstatechange", lambda: self._state_changed(call_id, new))
        answer = await new.answer(sdp)
        self._apply(call)  # a replaced leg takes up where the old one was
        return answer

    def _state_changed(self, call_id: str, leg: Leg) -> None:
        state = leg.connection.connectionState
        call = self.calls.get(call_id)
        if call is not None and leg.name.startswith(MONITOR):
            monitor = call.monitors.get(leg.name)
            if monitor is not None and monitor.leg is leg and state in ("failed", "closed"):
                asyncio.ensure_future(self._monitor_lost(call, leg.name))
            return
        if call is None or call.legs.get(leg.name) is not leg:
            return  # replaced or hung up: not news
        if state == "connected":
            asyncio.ensure_future(self.reports.leg_connected(call_id, leg.name))
        elif state in ("failed", "closed"):
            call.legs.pop(leg.name, None)
            asyncio.ensure_future(self._lost(call_id, call, leg))

    async def _lost(self, call_id: str, call: _CallMedia, leg: Leg) -> None:
        await self._drop_leg(call, leg)
        await self.reports.leg_lost(call_id, leg.name)

    async def _drop_leg(self, call: _CallMedia, leg: Leg) -> None:
        if call.bridge is not None and leg in call.bridge.legs:
            call.bridge.unbridge()
            call.bridge = None
        if call.recording is not None and leg in call.recording.recorder.legs:
            await self._finish_recording(call)
        await leg.close()

    def _apply(self, call: _CallMedia) -> None:
        """Make the media match the call's mode, with whatever legs it has now."""
        caller, agent = call.legs.get(CALLER), call.legs.get(AGENT)
        if call.mode != "bridge" and call.bridge is not None:
            call.bridge.unbridge()
            call.bridge = None
        if call.mode in ("wait", "hold") and caller is not None:
            if call.music is None:
                call.music = EncodedClip(self.music, loop=True)
            if caller.track.source is not call.music and not call.announcing:
                caller.track.play(call.music)
            if agent is not None:
                agent.track.play(Silence())
        if call.mode == "bridge" and caller is not None and agent is not None:
            if call.bridge is None or call.bridge.legs != (caller, agent):
                if call.bridge is not None:
                    call.bridge.unbridge()
                call.bridge = Bridge(caller, agent)
            # The agent hears the caller, and any supervisor who whispers; the caller never does.
            whispers = [monitor.voice for monitor in call.monitors.values() if monitor.whisper]
            from_caller = call.bridge.feeds[1]
            wanted = Mix([from_caller, *whispers]) if whispers else from_caller
            current = agent.track.source
            if not (current is from_caller and not whispers) and not (
                isinstance(current, Mix) and current.feeds == [from_caller, *whispers]
            ):
                agent.track.play(wanted)
        self._hook_monitors(call)

    def _hook_monitors(self, call: _CallMedia) -> None:
        """Each monitor hears whichever caller and agent legs the call has now."""
        caller, agent = call.legs.get(CALLER), call.legs.get(AGENT)
        for monitor in call.monitors.values():
            for leg, hook in monitor.hooks:
                if hook in leg.listeners:
                    leg.listeners.remove(hook)
            pairs = ((caller, monitor.hears[0]), (agent, monitor.hears[1]))
            monitor.hooks = [(leg, feed.push) for leg, feed in pairs if leg is not None]
            for leg, hook in monitor.hooks:
                leg.listeners.append(hook)

    async def _apply_recording(self, call: _CallMedia) -> None:
        caller, agent = call.legs.get(CALLER), call.legs.get(AGENT)
        running = call.recording
        if running is not None and (running.agent_id != call.agent_id or running.recorder.legs != (caller, agent)):
            await self._finish_recording(call)
            running = None
        if call.record and call.mode in ("bridge", "hold") and caller is not None and agent is not None:
            if running is None:
                buffer = io.BytesIO()
                recorder = Recorder(buffer, left=caller, right=agent)
                recorder.start()
                running = call.recording = _Recording(
                    recorder, buffer, call.agent_id, datetime.datetime.now(tz=datetime.UTC)
                )
            running.recorder.paused = call.mode == "hold"
            running.recorder.masked = call.masked
        elif running is not None:
            running.recorder.paused = True

    async def _finish_recording(self, call: _CallMedia) -> None:
        running, call.recording = call.recording, None
        if running is None:
            return
        await running.recorder.stop()
        ended_at = datetime.datetime.now(tz=datetime.UTC)
        try:
            await self.reports.recording_done(
                call.call_id, running.agent_id, running.buffer.getvalue(), running.started_at, ended_at
            )
        except Exception:
            logger.exception("a recording could not be stored")

    async def wait(self, call_id: str, *, music: str | None = None, announce: dict | None = None) -> None:
        call = self._call(call_id)
        call.mode = "wait"
        call.music = EncodedClip(prompt_packets(music) if music else self.music, loop=True)
        if announce and announce.get("every") and self.announcer is not None:
            self.spawn(call, self.announcer(self, call_id, announce))
        agent = call.legs.pop(AGENT, None)
        if agent is not None:
            await self._drop_leg(call, agent)
        call.agent_id = None
        await self._apply_recording(call)
        self._apply(call)

    async def bridge(self, call_id: str, *, record: bool, masked: bool, agent_id: int | None) -> None:
        call = self._call(call_id)
        call.mode, call.record, call.masked, call.agent_id = "bridge", record, masked, agent_id
        self._apply(call)
        await self._apply_recording(call)

    async def hold(self, call_id: str) -> None:
        call = self._call(call_id)
        call.mode = "hold"
        self._apply(call)
        await self._apply_recording(call)

    async def record(self, call_id: str, *, record: bool, masked: bool, agent_id: int | None) -> None:
        call = self._call(call_id)
        call.record, call.masked, call.agent_id = record, masked, agent_id
        await self._apply_recording(call)

    async def digit(self, call_id: str, digit: str) -> None:
        call = self._call(call_id)
        call.digits.put_nowait(digit)
        call.digit_arrived.set()

    def mode_of(self, call_id: str) -> str | None:
        call = self.calls.get(call_id)
        return call.mode if call is not None else None

    def spawn(self, call: _CallMedia, work) -> asyncio.Task:
        """Run `work` (a menu walk, an announcer) for the call; cancelled when the call ends."""
        task = asyncio.ensure_future(work)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)
        return task

    async def ivr(self, call_id: str) -> None:
        """The caller is in a menu: prompts only, until told to wait."""
        call = self._call(call_id)
        call.mode = "ivr"
        self._apply(call)

    async def say(self, call_id: str, prompts: list[str], *, interruptible: bool = True) -> bool:
        call = self.calls.get(call_id)
        for path in prompts:
            caller = call.legs.get(CALLER) if call is not None else None
            if caller is None:
                return False
            if interruptible and not call.digits.empty():
                return False
            played = caller.track.play(EncodedClip(prompt_packets(path)))
            waits = {played}
            if interruptible:
                call.digit_arrived.clear()
                waits.add(asyncio.ensure_future(call.digit_arrived.wait()))
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in pending:
                if waiting is not played:
                    waiting.cancel()
            if played not in done:  # a key: stop talking, the key is read next
                caller.track.play(Silence())
                return False
            if not played.result():
                return False
        return True

    async def next_digit(self, call_id: str, within: float) -> str | None:
        call = self.calls.get(call_id)
        if call is None:
            return None
        try:
            async with asyncio.timeout(within):
                return await call.digits.get()
        except TimeoutError:
            return None

    async def end(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        call.mode = "idle"
        for task in list(call.tasks):
            task.cancel()
        await asyncio.gather(*call.tasks, return_exceptions=True)
        for monitor in list(call.monitors):
            await self.monitor_close(call_id, monitor)
        await self._finish_recording(call)
        if call.bridge is not None:
            call.bridge.unbridge()
        legs, call.legs = list(call.legs.values()), {}
        for leg in legs:
            await leg.close()
        self.calls.pop(call_id, None)

    async def monitor_open(self, call_id: str, monitor: str, sdp: str) -> str:
        call = self.calls.get(call_id)
        if call is None:
            raise LookupError(f"no media for call {call_id}")
        await self.monitor_close(call_id, monitor)
        leg = Leg(monitor)
        watcher = call.monitors[monitor] = _Monitor(leg)
        leg.listeners.append(watcher.voice.push)
        leg.connection.on("connectionstatechange", lambda: self._state_changed(call_id, leg))
        answer = await leg.answer(sdp)
        leg.track.play(Mix(list(watcher.hears)))
        self._apply(call)
        return answer

    async def monitor_whisper(self, call_id: str, monitor: str, on: bool) -> None:
        call = self.calls.get(call_id)
        if call is not None and monitor in call.monitors:
            call.monitors[monitor].whisper = on
            self._apply(call)

    async def monitor_close(self, call_id: str, monitor: str) -> None:
        call = self.calls.get(call_id)
        watcher = call.monitors.pop(monitor, None) if call is not None else None
        if watcher is None:
            return
        for leg, hook in watcher.hooks:
            if hook in leg.listeners:
                leg.listeners.remove(hook)
        self._apply(call)
        await watcher.leg.close()

    async def _monitor_lost(self, call: _CallMedia, monitor: str) -> None:
        await self.monitor_close(call.call_id, monitor)
        await self.reports.leg_lost(call.call_id, monitor)

    async def close(self) -> None:
        for call_id in list(self.calls):
            await self.end(call_id)
