"""Call legs over WebRTC (aiortc), joined to each other and to a recorder by 20 ms frames.

A leg answers one party's offer. What the party says is decoded once and handed, frame by
frame, to whoever listens (the other leg of a bridge, the recorder, later a supervisor); what
the party hears is the leg's one `LegTrack`, playing one source at a time.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .audio import FRAME_SAMPLES, RATE, SILENT_FRAME, TIME_BASE, LegTrack

logger = logging.getLogger(__name__)

Listener = Callable[[np.ndarray], None]


class Feed:
    """A live source: frames pushed by another leg, played as they come. An empty feed plays
    silence (a late packet is a gap, not a stall); a feed that falls behind drops its oldest
    frames, so the delay between two parties never grows past `max_frames` × 20 ms."""

    def __init__(self, max_frames: int = 10):
        self.frames: collections.deque[np.ndarray] = collections.deque(maxlen=max_frames)

    def push(self, samples: np.ndarray) -> None:
        self.frames.append(samples)

    def read(self) -> np.ndarray:
        return self.frames.popleft() if self.frames else SILENT_FRAME


class Mix:
    """Several live feeds heard at once (a supervisor hears caller and agent; an agent hears
    the caller and a whispering supervisor), summed and clipped to 16 bits."""

    def __init__(self, feeds: list[Feed]):
        self.feeds = feeds

    def read(self) -> np.ndarray:
        frames = [feed.read() for feed in self.feeds]
        if len(frames) == 1:
            return frames[0]
        total = np.sum([frame.astype(np.int32) for frame in frames], axis=0)
        return np.clip(total, -32768, 32767).astype(np.int16)


def mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame as 48 kHz mono int16: Opus decodes to interleaved stereo, and a browser's
    microphone is one channel copied to both."""
    samples = np.ascontiguousarray(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
    if frame.sample_rate != RATE or len(samples) != FRAME_SAMPLES:
        raise ValueError(f"expected 20 ms at {RATE} Hz, got {len(samples)} samples at {frame.sample_rate} Hz")
    return samples


class Leg:
    """One party's side of a call: their WebRTC connection, what they hear and what they say."""

    def __init__(self, name: str):
        self.name = name
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = LegTrack()
        self.listeners: list[Listener] = []
        self._listening: asyncio.Task | None = None
        self.connection.on("track", self._on_track)

    def _on_track(self, remote: MediaStreamTrack) -> None:
        if remote.kind == "audio" and self._listening is None:
            self._listening = asyncio.ensure_future(self._listen(remote))

    async def _listen(self, remote: MediaStreamTrack) -> None:
        # Read every frame even with nobody listening: aiortc queues them without bound.
        while True:
            try:
                frame = await remote.recv()
            except MediaStreamError:
                return
            try:
                samples = mono(frame)
            except ValueError as error:
                logger.warning("leg %s: %s", self.name, error)
                continue
            for listener in list(self.listeners):
                listener(samples)

    async def answer(self, offer_sdp: str) -> str:
        """Answer the party's offer (complete, with its candidates: aiortc does not trickle)."""
        await self.connection.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.connection.addTrack(self.track)  # takes the offered audio transceiver, sendrecv
        await self.connection.setLocalDescription(await self.connection.createAnswer())
        return self.connection.localDescription.sdp

    async def close(self) -> None:
        self.track.stop()
        await self.connection.close()
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)


class Bridge:
    """Two legs hear each other."""

    def __init__(self, first: Leg, second: Leg):
        self.legs = (first, second)
        self.feeds = (Feed(), Feed())
        self._hooks = ((first, self.feeds[1].push), (second, self.feeds[0].push))
        for leg, hook in self._hooks:
            leg.listeners.append(hook)
        first.track.play(self.feeds[0])
        second.track.play(self.feeds[1])

    def unbridge(self) -> None:
        for leg, hook in self._hooks:
            if hook in leg.listeners:
                leg.listeners.remove(hook)


class Recorder:
    """A call's recording: the caller on the left channel, the agent on the right, 20 ms at a
    time, in Ogg/Opus. Pausing leaves the time out; masking writes silence over it (a card
    number read out stays out of the file, and the timeline stays true)."""

    def __init__(self, target: Path | BinaryIO, *, left: Leg, right: Leg, bitrate: int = 64_000):
        # A file object keeps the audio in memory until it is sealed (voice/sealing.py).
        self.target = target
        self.legs = (left, right)
        self.feeds = (Feed(max_frames=50), Feed(max_frames=50))
        self._hooks = ((left, self.feeds[0].push), (right, self.feeds[1].push))
        self.paused = False
        self.masked = False
        self._container = av.open(target if hasattr(target, "write") else str(target), mode="w", format="ogg")
        self._stream = self._container.add_stream("libopus", rate=RATE, layout="stereo")
        self._stream.bit_rate = bitrate
        self._pts = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        for leg, hook in self._hooks:
            leg.listeners.append(hook)
        self._task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        ticks = 0
        while True:
            ticks += 1
            await asyncio.sleep(max(0.0, started + ticks * FRAME_SAMPLES / RATE - loop.time()))
            left, right = self.feeds[0].read(), self.feeds[1].read()
            if self.paused:
                continue
            if self.masked:
                left = right = SILENT_FRAME
            self._encode(np.column_stack((left, right)).reshape(1, -1))

    def _encode(self, interleaved: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    async def stop(self) -> None:
        for leg, hook in self._hooks:
            if hook in leg.listeners:
                leg.listeners.remove(hook)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
