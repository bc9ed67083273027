# What RTP timestamp does aiortc's OpusEncoder emit if a replacement track restarts pts at 0?
import fractions, numpy as np, av
from aiortc.codecs.opus import OpusEncoder
def fr(pts, pts_none=False):
    f = av.AudioFrame.from_ndarray(np.zeros((1,960),np.int16), format="s16", layout="mono")
    f.sample_rate = 48000
    if not pts_none:
        f.pts = pts; f.time_base = fractions.Fraction(1,48000)
    return f
enc = OpusEncoder()
ts = []
for i in range(5): ts.append(enc.encode(fr(i*960))[1])
for i in range(5): ts.append(enc.encode(fr(i*960))[1])      # "new track" restarting at pts 0
print("restart at 0:", ts)
enc = OpusEncoder()
try:
    enc.encode(fr(0, pts_none=True)); print("pts None: ok")
except TypeError as e:
    print("pts None: TypeError", e)
enc = OpusEncoder(); ts=[]
for i in range(5): ts.append(enc.encode(fr(i*960))[1])
for i in range(5): ts.append(enc.encode(fr(100*48000 + i*960))[1])  # jump forward 100 s
print("jump forward:", ts)
