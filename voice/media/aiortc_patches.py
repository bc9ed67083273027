"""Patches of aiortc's internals, each for one exact version (docs/voice-research, section 5).

aiortc measures the level of every outgoing 20 ms frame for the RTP audio-level header with a
per-sample Python loop, 95 µs a frame (190 µs stereo); numpy gives the same number in 4 µs.
`tests/voice/test_aiortc_patches.py` fails when aiortc is upgraded, so that the patch is looked
at again rather than applied blindly to code that may have moved.
"""

from __future__ import annotations

import logging
import math

import aiortc
import numpy as np
from aiortc import rtp

logger = logging.getLogger(__name__)

PATCHED_VERSION = "1.16.0"
_stock_audio_level = rtp.compute_audio_level_dbov


def audio_level_dbov(frame) -> int:
    """RFC 6465 Appendix A, as aiortc 1.16.0 computes it (including its stereo quirk: the sum
    over all interleaved samples divided by the samples of one channel)."""
    channels = len(frame.layout.channels)
    samples = np.frombuffer(frame.planes[0], dtype=np.int16)[: frame.samples * channels].astype(np.float64)
    rms = math.sqrt(float(np.dot(samples, samples)) / (frame.samples * 32767 * 32767))
    if rms <= 0:
        return -127
    return round(min(max(20 * math.log10(rms), -127), 0))


def install() -> bool:
    """Apply the patches if aiortc is the version they were written for; True if applied."""
    if aiortc.__version__ != PATCHED_VERSION:
        logger.warning("aiortc %s is not %s: its audio level stays unpatched", aiortc.__version__, PATCHED_VERSION)
        return False
    # rtcrtpsender looks `rtp.compute_audio_level_dbov` up on each frame, so the module attribute is enough.
    rtp.compute_audio_level_dbov = audio_level_dbov
    return True


def uninstall() -> None:
    rtp.compute_audio_level_dbov = _stock_audio_level
