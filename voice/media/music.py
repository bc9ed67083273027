"""Hold music made at start-up, so a fresh install plays something pleasant before anyone
uploads their own: a slow arpeggio over four chords, 16 s, looped. No file, no download."""

from __future__ import annotations

import functools

import numpy as np

from .audio import RATE

# C major, A minor, F major, G major; each chord 4 s, its notes struck in turn every 0.5 s.
CHORDS = [(261.63, 329.63, 392.00), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63), (196.00, 246.94, 293.66)]
NOTE_SECONDS = 0.5
CHORD_SECONDS = 4.0
LEVEL = 0.12  # about -18 dBFS at the peaks: under a voice, never shouting


@functools.cache
def hold_music() -> np.ndarray:
    total = int(len(CHORDS) * CHORD_SECONDS * RATE)
    out = np.zeros(total, dtype=np.float64)
    note_length = int(2.0 * RATE)  # each note rings on under the next ones
    t = np.arange(note_length) / RATE
    envelope = np.minimum(t / 0.02, 1.0) * np.exp(-t * 2.2)
    for chord_index, chord in enumerate(CHORDS):
        for step in range(int(CHORD_SECONDS / NOTE_SECONDS)):
            frequency = chord[step % len(chord)] * (2 if step % 4 == 3 else 1)
            start = int((chord_index * CHORD_SECONDS + step * NOTE_SECONDS) * RATE)
            # A sine with a little second harmonic sounds like a soft electric piano.
            note = (np.sin(2 * np.pi * frequency * t) + 0.25 * np.sin(4 * np.pi * frequency * t)) * envelope
            end = min(total, start + note_length)
            out[start:end] += note[: end - start]
            if start + note_length > total:  # the loop's tail rings into its start
                out[: start + note_length - total] += note[end - start :]
    out *= LEVEL * 32767 / max(1e-9, np.abs(out).max())
    return np.clip(out, -32767, 32767).astype(np.int16)
