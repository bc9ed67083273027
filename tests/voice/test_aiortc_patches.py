"""The numpy audio level is aiortc's, number for number, and the patch is for this aiortc only."""

import inspect

import aiortc
import av
import numpy as np
import pytest
from aiortc import rtcrtpsender, rtp

from voice.media import aiortc_patches


def frame_of(samples: np.ndarray, layout: str) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
    frame.sample_rate = 48_000
    return frame


def test_the_patch_is_for_the_installed_aiortc_and_its_call_site():
    # Fails on an upgrade: read aiortc's rtp.py and rtcrtpsender.py again, then move the pin.
    assert aiortc.__version__ == aiortc_patches.PATCHED_VERSION
    # The sender must still look the function up on the module for each frame.
    assert "rtp.compute_audio_level_dbov(data)" in inspect.getsource(rtcrtpsender)


@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_numpy_gives_aiortcs_level_for_every_loudness(layout):
    generator = np.random.default_rng(6465)
    channels = 1 if layout == "mono" else 2
    for amplitude in (0, 1, 3, 30, 300, 3000, 20000, 32767):
        samples = generator.integers(-amplitude, amplitude + 1, size=960 * channels, dtype=np.int16)
        frame = frame_of(samples, layout)
        assert aiortc_patches.audio_level_dbov(frame) == aiortc_patches._stock_audio_level(frame), amplitude


def test_install_replaces_and_uninstall_restores():
    try:
        assert aiortc_patches.install() is True
        assert rtp.compute_audio_level_dbov is aiortc_patches.audio_level_dbov
    finally:
        aiortc_patches.uninstall()
    assert rtp.compute_audio_level_dbov is aiortc_patches._stock_audio_level
