"""Two parties over real WebRTC connections (aiortc on both sides, Opus as with a browser):
bridged, they hear each other; the recording holds each on its own channel, and a masked
span is silent."""

import av
import numpy as np

from tests.voice.test_audio import peak_hz
from tests.voice.wire import Phone
from voice.media.audio import RATE
from voice.media.legs import Bridge, Leg, Recorder


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


async def test_bridged_parties_hear_each_other_and_are_recorded_apart_with_a_masked_span(tmp_path):
    caller_leg, agent_leg = Leg("caller"), Leg("agent")
    caller, agent = Phone(700), Phone(1300)
    try:
        await caller.call(caller_leg)
        await agent.call(agent_leg)
        Bridge(caller_leg, agent_leg)
        recorder = Recorder(tmp_path / "call.ogg", left=caller_leg, right=agent_leg)
        recorder.start()

        await caller.hears(25)  # the codec settles
        assert abs(peak_hz(await caller.hears(50)) - 1300) < 15
        assert abs(peak_hz(await agent.hears(50)) - 700) < 15

        recorder.masked = True
        masked_from = recorder._pts
        await caller.hears(40)
        masked_to = recorder._pts
        recorder.masked = False
        await caller.hears(40)
        await recorder.stop()
    finally:
        for party in (caller, agent):
            await party.hang_up()
        for leg in (caller_leg, agent_leg):
            await leg.close()

    with av.open(str(tmp_path / "call.ogg")) as container:
        stream = container.streams.audio[0]
        assert (stream.channels, stream.sample_rate) == (2, RATE)
        decoded = np.concatenate(
            [frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed else frame.to_ndarray().T
             for frame in container.decode(audio=0)]
        )  # fmt: skip
    decoded = decoded.astype(np.float64)
    if np.abs(decoded).max() <= 1.0:  # a float decoder: scale to 16-bit
        decoded *= 32767
    left, right = decoded[:, 0], decoded[:, 1]
    spoken = slice(masked_from - 30 * 960, masked_from - 5 * 960)  # before the mask, all talking
    assert abs(peak_hz(left[spoken]) - 700) < 15
    assert abs(peak_hz(right[spoken]) - 1300) < 15
    inner = slice(masked_from + 5 * 960, masked_to - 5 * 960)
    assert masked_to - masked_from >= 30 * 960
    assert rms(left[inner]) < 50 < rms(left[spoken])
    assert rms(right[inner]) < 50 < rms(right[spoken])
