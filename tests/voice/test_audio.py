"""A leg's outbound audio: sources, decoding, and the one track that paces and numbers them."""

import asyncio
import wave

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from voice.media import aiortc_patches
from voice.media.audio import FRAME_SAMPLES, RATE, Clip, LegTrack, Silence, Tone, decode


def peak_hz(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


class FakeClock:
    """Time passes only when the track sleeps: pacing is checked without waiting."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_tone_is_its_frequency_without_a_click_between_frames():
    tone = Tone(1000, level=-6)
    samples = np.concatenate([tone.read() for _ in range(25)])
    assert samples.dtype == np.int16
    assert len(samples) == 25 * FRAME_SAMPLES
    assert abs(peak_hz(samples) - 1000) < 5
    steps = np.abs(np.diff(samples.astype(np.int32)))
    assert steps.max() < 2 * np.pi * 1000 / RATE * 32767 * 1.05  # no jump at a frame boundary
    assert Tone(1000, seconds=0.1).read() is not None
    short = Tone(1000, seconds=0.04)
    assert [short.read() is None for _ in range(3)] == [False, False, True]


def test_a_prompt_file_is_decoded_once_to_48_khz_mono(tmp_path):
    path = tmp_path / "greeting.wav"
    rate = 16_000
    t = np.arange(rate) / rate  # one second at 16 kHz
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes())
    samples = decode(path)
    assert samples.dtype == np.int16
    assert abs(len(samples) - RATE) < FRAME_SAMPLES
    assert abs(peak_hz(samples) - 440) < 5


def test_a_clip_plays_once_padded_or_loops():
    samples = np.arange(2 * FRAME_SAMPLES + 10, dtype=np.int16)
    once = Clip(samples)
    frames = [once.read() for _ in range(4)]
    assert [frame is None for frame in frames] == [False, False, False, True]
    assert list(frames[2][:10]) == list(range(2 * FRAME_SAMPLES, 2 * FRAME_SAMPLES + 10))
    assert not frames[2][10:].any()
    looped = Clip(samples, loop=True)
    assert [looped.read() is None for _ in range(10)] == [False] * 10


async def test_the_track_paces_and_numbers_frames_across_sources():
    clock = FakeClock()
    track = LegTrack(clock=clock, sleep=clock.sleep)
    first = await track.recv()
    assert (first.format.name, first.layout.name, first.sample_rate, first.samples) == ("s16", "mono", RATE, 960)
    assert first.pts == 0
    assert not first.to_ndarray().any()  # a new leg hears silence

    prompt = track.play(Clip(np.full(FRAME_SAMPLES * 2, 1000, dtype=np.int16)))
    frames = [await track.recv() for _ in range(4)]
    assert [frame.pts for frame in frames] == [960, 1920, 2880, 3840]
    assert clock.slept == pytest.approx([0.02] * 4)
    assert [int(frame.to_ndarray().max()) for frame in frames] == [1000, 1000, 0, 0]
    assert prompt.done()
    assert prompt.result() is True  # played to its end, then silence

    music = track.play(Tone(440))
    interrupted = track.play(Silence())
    assert music.result() is False
    assert (await track.recv()).pts == 4800
    track.stop()
    assert interrupted.result() is False
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_a_late_sender_catches_up_without_sleeping():
    clock = FakeClock()
    track = LegTrack(clock=clock, sleep=clock.sleep)
    await track.recv()
    clock.now += 0.1  # the loop was busy for five frames
    for _ in range(5):
        await track.recv()
    assert clock.slept == []
    await track.recv()
    assert clock.slept == pytest.approx([0.02])


async def test_a_tone_crosses_a_real_webrtc_connection_with_the_patched_level():
    """aiortc to aiortc over Opus (as to a browser): the far side hears the tone."""
    aiortc_patches.install()
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = LegTrack()
    heard: list[np.ndarray] = []
    done = asyncio.Event()

    async def listen(remote):
        while len(heard) < 60:
            frame = await remote.recv()
            heard.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
        done.set()

    answerer.on("track", lambda remote: asyncio.ensure_future(listen(remote)))
    try:
        caller.addTrack(track)
        track.play(Tone(1000, level=-6))
        await caller.setLocalDescription(await caller.createOffer())
        await answerer.setRemoteDescription(caller.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await caller.setRemoteDescription(answerer.localDescription)
        async with asyncio.timeout(20):
            await done.wait()
    finally:
        await caller.close()
        await answerer.close()
        aiortc_patches.uninstall()
    # Skip the codec's start-up; the rest is the tone.
    assert abs(peak_hz(np.concatenate(heard[20:])) - 1000) < 10
