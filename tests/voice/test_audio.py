"""A leg's outbound audio: sources, decoding, and the one track that paces and numbers them."""

import asyncio
import wave

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from voice.media.audio import FRAME_SAMPLES, RATE, Clip, EncodedClip, LegTrack, Silence, Tone, decode, encode_opus


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


def loudness_of(packets) -> list[float]:
    """Each packet decoded, as its RMS (the codec's look-ahead smears a little into the next)."""
    decoder = av.CodecContext.create("libopus", "r")
    levels = []
    for packet in packets:
        samples = [
            f.to_ndarray().astype(np.float64) * (32767 if f.format.is_planar else 1) for f in decoder.decode(packet)
        ]
        levels.append(float(np.sqrt(np.mean(np.concatenate(samples) ** 2))) if samples else 0.0)
    return levels


async def test_the_track_paces_and_numbers_frames_across_sources():
    clock = FakeClock()
    track = LegTrack(clock=clock, sleep=clock.sleep)
    first = await track.recv()
    assert isinstance(first, av.Packet)
    assert first.pts == 0

    tone = np.concatenate([Tone(1000, level=-6).read() for _ in range(3)])
    prompt = track.play(Clip(tone))
    packets = [await track.recv() for _ in range(6)]
    assert [packet.pts for packet in packets] == [960, 1920, 2880, 3840, 4800, 5760]
    assert clock.slept == pytest.approx([0.02] * 6)
    levels = loudness_of([first, *packets])
    assert levels[0] < 100  # a new leg hears silence
    assert min(levels[2:4]) > 5000  # the prompt
    assert max(levels[5:]) < 100  # then silence again
    assert prompt.done()
    assert prompt.result() is True  # played to its end, then silence

    music = track.play(Tone(440))
    interrupted = track.play(Silence())
    assert music.result() is False
    assert (await track.recv()).pts == 6720
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


async def test_a_tone_crosses_a_real_webrtc_connection():
    """aiortc to aiortc over Opus (as to a browser): the far side hears the tone."""
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
    # Skip the codec's start-up; the rest is the tone.
    assert abs(peak_hz(np.concatenate(heard[20:])) - 1000) < 10


def test_a_prompt_encoded_once_decodes_to_its_tone():
    samples = np.concatenate([Tone(800, level=-6).read() for _ in range(50)])  # 1 s
    packets = encode_opus(samples)
    assert 50 <= len(packets) <= 52  # 20 ms each (plus the encoder's flush)
    decoder = av.CodecContext.create("libopus", "r")
    decoded = []
    for data in packets:
        for frame in decoder.decode(av.Packet(data)):
            decoded.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
    heard = np.concatenate(decoded)
    assert abs(peak_hz(heard[RATE // 5 : RATE // 5 + RATE // 2]) - 800) < 5


async def test_the_track_sends_prompts_packets_as_they_are_and_encodes_live_audio():
    clock = FakeClock()
    track = LegTrack(clock=clock, sleep=clock.sleep)
    track.play(EncodedClip([b"first", b"second", b"third"]))
    sent = [await track.recv() for _ in range(3)]
    assert [(bytes(packet), packet.pts) for packet in sent] == [
        (b"first", 0), (b"second", FRAME_SAMPLES), (b"third", 2 * FRAME_SAMPLES),
    ]  # fmt: skip
    track.play(Tone(440))
    live = await track.recv()  # encoded by the leg itself, on the same clock
    assert isinstance(live, av.Packet)
    assert live.pts == 3 * FRAME_SAMPLES
    assert len(bytes(live)) > 10


async def test_the_senders_timestamps_rise_across_packets_and_frames():
    """What aiortc's sender does with each item (rtcrtpsender._next_encoded_frame): encode a
    frame, pack a packet. Music, a live tone, music: the RTP timestamps rise by 20 ms each."""
    from aiortc.codecs.opus import OpusEncoder

    clock = FakeClock()
    track = LegTrack(clock=clock, sleep=clock.sleep)
    music = EncodedClip(encode_opus(np.concatenate([Tone(600).read() for _ in range(10)])), loop=True)
    encoder = OpusEncoder()
    stamps = []
    for source in (music, Tone(1200), music):
        track.play(source)
        for _ in range(20):
            item = await track.recv()
            payloads, stamp = encoder.encode(item) if isinstance(item, av.AudioFrame) else encoder.pack(item)
            if payloads:
                stamps.append(stamp)
    assert stamps == [n * FRAME_SAMPLES for n in range(len(stamps))]
    assert len(stamps) == 60


async def test_prompts_packets_and_live_frames_are_heard_in_turn_over_webrtc():
    """Music (packets), then a live tone (frames encoded by the sender), then music again:
    the far side hears each in turn."""
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = LegTrack()
    heard: list[tuple[int, np.ndarray]] = []

    async def listen(remote):
        while True:
            frame = await remote.recv()
            heard.append((frame.pts, frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]))

    answerer.on("track", lambda remote: asyncio.ensure_future(listen(remote)))
    music = EncodedClip(encode_opus(np.concatenate([Tone(600, level=-6).read() for _ in range(50)])), loop=True)
    try:
        caller.addTrack(track)
        track.play(music)
        await caller.setLocalDescription(await caller.createOffer())
        await answerer.setRemoteDescription(caller.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await caller.setRemoteDescription(answerer.localDescription)
        marks = []
        for source in (Tone(1200, level=-6), music):
            await asyncio.sleep(1.5)
            marks.append(len(heard))
            track.play(source)
        await asyncio.sleep(1.5)
        marks.append(len(heard))
    finally:
        await caller.close()
        await answerer.close()
    segments = [heard[marks[0] - 40 : marks[0] - 5], heard[marks[1] - 40 : marks[1] - 5], heard[-40:-5]]
    assert [round(peak_hz(np.concatenate([s for _, s in part])), -2) for part in segments] == [600, 1200, 600]
