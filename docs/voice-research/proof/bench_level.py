"""Micro-benchmark: aiortc.rtp.compute_audio_level_dbov vs numpy replacement (aiortc 1.16.0)."""
import math, time, fractions
import numpy as np
import av
from aiortc import rtp
from aiortc.codecs.opus import OpusEncoder, OpusDecoder

def make_frame(samples=960, rate=48000, layout="mono", freq=1000.0, amp=0.5, start=0):
    t = (np.arange(samples) + start) / rate
    pcm = (amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    if layout == "stereo":
        pcm = np.repeat(pcm, 2)          # packed s16 interleaved L R L R
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
    frame.sample_rate = rate
    frame.pts = start
    frame.time_base = fractions.Fraction(1, rate)
    return frame

def level_numpy(frame) -> int:
    # Same formula as aiortc.rtp.compute_audio_level_dbov (RFC 6465 App. A), vectorised.
    # NB: aiortc iterates the whole plane (bytes(frame.planes[0])), i.e. all interleaved
    # channels, but divides by frame.samples; we replicate that exactly.
    a = np.frombuffer(frame.planes[0], dtype=np.int16).astype(np.float64)
    rms = math.sqrt(float(np.dot(a, a)) / (frame.samples * 32767 * 32767))
    if rms > 0:
        return round(min(max(20 * math.log10(rms), -127), 0))
    return -127

for layout in ("mono", "stereo"):
    f = make_frame(layout=layout)
    print(layout, "plane bytes", f.planes[0].buffer_size, "samples", f.samples,
          "to_ndarray", f.to_ndarray().shape, f.to_ndarray().dtype)
    assert rtp.compute_audio_level_dbov(f) == level_numpy(f), (rtp.compute_audio_level_dbov(f), level_numpy(f))
    N = 2000
    t0 = time.perf_counter()
    for _ in range(N): rtp.compute_audio_level_dbov(f)
    t1 = time.perf_counter()
    for _ in range(N): level_numpy(f)
    t2 = time.perf_counter()
    print(f"  aiortc level: {(t1-t0)/N*1e6:.1f} us/frame  numpy: {(t2-t1)/N*1e6:.1f} us/frame  value={level_numpy(f)}")

# Opus encode/decode costs per 20 ms frame (what RTCRtpSender/Receiver do)
enc = OpusEncoder(); dec = OpusDecoder()
N = 500
frames = [make_frame(start=i*960) for i in range(N)]
t0 = time.perf_counter()
pk = [enc.encode(fr) for fr in frames]
t1 = time.perf_counter()
print(f"opus encode (incl. resample mono->stereo): {(t1-t0)/N*1e6:.1f} us/frame")
from aiortc.jitterbuffer import JitterFrame
t0 = time.perf_counter()
outs = []
for i, (payloads, ts) in enumerate(pk):
    for p in payloads:
        outs += dec.decode(JitterFrame(data=p, timestamp=ts or 0))
t1 = time.perf_counter()
print(f"opus decode: {(t1-t0)/N*1e6:.1f} us/frame; decoded frame: format={outs[0].format.name} layout={outs[0].layout.name} rate={outs[0].sample_rate} samples={outs[0].samples} ndarray={outs[0].to_ndarray().shape}")
