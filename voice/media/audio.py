"""Audio of a call leg: 48 kHz mono 16-bit PCM in 20 ms frames, the sources a leg plays, and
the one track that carries them to the caller.

The track hands aiortc's sender Opus packets, numbered by its own clock: prompts and hold
music are encoded once (`encode_opus`) and their packets sent as they are to every caller
hearing them; live audio (the other party) is encoded by the leg's own encoder.

A leg keeps one outbound track for its whole life and switches what it plays (a prompt, hold
music, the other party) inside it: aiortc takes each RTP timestamp from the frame's pts, so a
new track would make the timestamps jump back, and a track that ends stops its sender for good
(docs/voice-research, section 2).
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, RATE)
SILENT_FRAME = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class Source(Protocol):
    def read(self) -> np.ndarray | bytes | None:
        """The next 20 ms as FRAME_SAMPLES int16 samples, or None once it has nothing more."""


class Silence:
    def read(self) -> np.ndarray:
        return SILENT_FRAME


class Tone:
    """A sine wave at `frequency` Hz, `level` dBFS, without a click between frames."""

    def __init__(self, frequency: float, level: float = -12.0, seconds: float | None = None):
        self.step = 2 * math.pi * frequency / RATE
        self.amplitude = 32767 * 10 ** (level / 20)
        self.frames_left = None if seconds is None else round(seconds * RATE / FRAME_SAMPLES)
        self.phase = 0.0

    def read(self) -> np.ndarray | None:
        if self.frames_left is not None:
            if self.frames_left <= 0:
                return None
            self.frames_left -= 1
        phases = self.phase + self.step * np.arange(FRAME_SAMPLES)
        self.phase = float(phases[-1] + self.step) % (2 * math.pi)
        return (self.amplitude * np.sin(phases)).astype(np.int16)


def decode(path: str | Path) -> np.ndarray:
    """Any audio file ffmpeg reads, as 48 kHz mono int16 samples (prompts are decoded once)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.extend(resampled.to_ndarray().reshape(-1) for resampled in resampler.resample(frame))
    chunks.extend(resampled.to_ndarray().reshape(-1) for resampled in resampler.resample(None))
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)


class Clip:
    """Samples played once, or over and over (hold music); the last frame is padded with silence."""

    def __init__(self, samples: np.ndarray, *, loop: bool = False):
        self.samples = samples
        self.loop = loop and len(samples) > 0
        self.position = 0

    def read(self) -> np.ndarray | None:
        if self.position >= len(self.samples):
            if not self.loop:
                return None
            self.position = 0
        frame = self.samples[self.position : self.position + FRAME_SAMPLES]
        self.position += FRAME_SAMPLES
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate([frame, SILENT_FRAME[: FRAME_SAMPLES - len(frame)]])
        return frame


OPUS_BITRATE = 64_000


class OpusStream:
    """An Opus encoder for 20 ms frames of 48 kHz mono, as aiortc's own (stereo, voip)."""

    def __init__(self):
        self.codec = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = OPUS_BITRATE
        self.codec.format = "s16"
        self.codec.layout = "stereo"
        self.codec.sample_rate = RATE
        self.codec.time_base = TIME_BASE
        self.codec.options = {"application": "voip"}
        self.samples = 0

    def encode(self, chunk: np.ndarray) -> list[bytes]:
        frame = av.AudioFrame.from_ndarray(np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self.samples
        frame.time_base = TIME_BASE
        self.samples += len(chunk)
        return [bytes(packet) for packet in self.codec.encode(frame)]

    def flush(self) -> list[bytes]:
        return [bytes(packet) for packet in self.codec.encode(None)]


def encode_opus(samples: np.ndarray) -> list[bytes]:
    """48 kHz mono samples as Opus packets of 20 ms, encoded once, so that every caller
    hearing a prompt or the hold music gets the same packets and no leg encodes them again."""
    stream = OpusStream()
    padded = np.concatenate([samples, np.zeros((-len(samples)) % FRAME_SAMPLES, dtype=np.int16)])
    packets: list[bytes] = []
    for start in range(0, len(padded), FRAME_SAMPLES):
        packets.extend(stream.encode(padded[start : start + FRAME_SAMPLES]))
    return packets + stream.flush()


@functools.cache
def _silent_packet() -> bytes:
    return encode_opus(SILENT_FRAME)[0]


class EncodedClip:
    """Opus packets sent as they are, once or over and over: a pre-encoded prompt or music."""

    def __init__(self, packets: list[bytes], *, loop: bool = False):
        self.packets = packets
        self.loop = loop and len(packets) > 0
        self.position = 0

    def read(self) -> bytes | None:
        if self.position >= len(self.packets):
            if not self.loop:
                return None
            self.position = 0
        packet = self.packets[self.position]
        self.position += 1
        return packet


class LegTrack(MediaStreamTrack):
    """The outbound audio of one call leg. It owns the clock and the pts, paces itself (aiortc's
    sender asks as fast as it can), and plays one source at a time; when a source runs out the
    leg hears silence and whoever started it is told."""

    kind = "audio"

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        super().__init__()
        self._clock = clock
        self._sleep = sleep
        self._source: Source = Silence()
        self._playing: asyncio.Future | None = None
        self._pts = 0
        self._started_at: float | None = None
        self._encoder = OpusStream()

    @property
    def source(self) -> Source:
        return self._source

    def play(self, source: Source) -> asyncio.Future:
        """Play `source` from the next frame on. The future is True once it has played to its
        end, False if another source replaced it first."""
        self._finish(False)
        self._source = source
        self._playing = asyncio.get_running_loop().create_future()
        return self._playing

    def _finish(self, played_out: bool) -> None:
        if self._playing is not None and not self._playing.done():
            self._playing.set_result(played_out)
        self._playing = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        if self._started_at is None:
            self._started_at = now
        else:
            self._pts += FRAME_SAMPLES
            due = self._started_at + self._pts / RATE
            if due > now:
                await self._sleep(due - now)
        samples = self._source.read()
        if samples is None:
            self._source = Silence()
            self._finish(True)
            samples = SILENT_FRAME
        if not isinstance(samples, bytes):
            # Live audio is encoded here, in the loop: aiortc's sender would encode a frame in
            # a thread (a hop per frame) and number it by the samples *it* encoded, which a
            # pre-encoded prompt in between would put out of step with our clock.
            samples = next(iter(self._encoder.encode(samples)), None) or _silent_packet()
        packet = av.Packet(samples)
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        return packet

    def stop(self) -> None:
        self._finish(False)
        super().stop()
