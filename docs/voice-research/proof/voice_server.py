"""
Proof of concept: browser (headless Chromium, fake mic) <-> aiortc 1.16 voice leg.

Run with the scratch venv:  /tmp/vtest/bin/python voice_server.py [--port 8765] [--seconds 12]
Then open http://127.0.0.1:8765/ (browser_driver.py does that with Playwright).

What it shows
  * SDP offer/answer over a WebSocket (non-trickle: the browser waits for
    iceGatheringState == "complete" before sending its offer; aiortc's
    setLocalDescription() itself waits for gathering, so its answer carries all candidates)
  * one long-lived outbound track (SwitchableAudioTrack) with monotonically increasing pts,
    whose *source* is switched: 1 kHz tone -> 440 Hz WAV "prompt" (decoded with PyAV)
  * inbound audio (browser's fake mic) converted to numpy, FFT peak measured
  * stereo recording: caller (browser) = left, agent/outbound = right, to WAV (pcm_s16le)
    and Ogg/Opus, then re-read and FFT-checked per channel
  * DTMF digits arriving over the signalling WebSocket (aiortc cannot receive RFC 4733)
"""

import argparse
import asyncio
import fractions
import json
import math
import os
import resource
import time

import av
import numpy as np
from aiohttp import WSMsgType, web

import aiortc.rtp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

RATE = 48000
PTIME = 0.020
SAMPLES = int(RATE * PTIME)  # 960
TIME_BASE = fractions.Fraction(1, RATE)
HERE = os.path.dirname(os.path.abspath(__file__))

T0 = time.monotonic()


def log(*a):
    print(f"[{time.monotonic() - T0:7.3f}s]", *a, flush=True)


# --------------------------------------------------------------------------- CPU patch
def compute_audio_level_dbov_numpy(frame: av.AudioFrame) -> int:
    """Drop-in, vectorised replacement for aiortc.rtp.compute_audio_level_dbov
    (aiortc 1.16.0, src/aiortc/rtp.py). Same result, incl. aiortc's quirk of summing
    all interleaved channels of plane 0 but dividing by frame.samples."""
    a = np.frombuffer(frame.planes[0], dtype=np.int16)[: frame.samples * len(frame.layout.channels)]
    a = a.astype(np.float64)
    rms = math.sqrt(float(np.dot(a, a)) / (frame.samples * 32767 * 32767))
    if rms > 0:
        return round(min(max(20 * math.log10(rms), -127), 0))
    return -127


# --------------------------------------------------------------------------- sources
class ToneSource:
    def __init__(self, freq: float, amp: float = 0.3):
        self.freq, self.amp, self.n = freq, amp, 0

    def read(self, n: int):
        t = (np.arange(n) + self.n) / RATE
        self.n += n
        return (self.amp * 32767 * np.sin(2 * np.pi * self.freq * t)).astype(np.int16)


class FileSource:
    """Decode any file FFmpeg understands (WAV, Ogg/Opus, MP3...) to 48 kHz mono s16.
    Decoded eagerly here (prompts are small); use a thread for long files."""

    def __init__(self, path: str, loop: bool = False):
        chunks = []
        with av.open(path) as c:
            rs = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in c.decode(audio=0):
                for f in rs.resample(frame):
                    chunks.append(f.to_ndarray().reshape(-1))
            for f in rs.resample(None):  # flush
                chunks.append(f.to_ndarray().reshape(-1))
        self.pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        self.pos, self.loop = 0, loop

    def read(self, n: int):
        if self.pos >= len(self.pcm):
            if not self.loop:
                return None  # finished -> track plays silence
            self.pos = 0
        out = self.pcm[self.pos : self.pos + n]
        self.pos += n
        if len(out) < n:
            out = np.concatenate([out, np.zeros(n - len(out), np.int16)])
        return out


class QueueSource:
    """Live source (e.g. the other leg's decoded audio, for bridging). Fed by push();
    read() never blocks: on underrun it returns silence."""

    def __init__(self, max_ms: int = 200):
        self.buf = np.zeros(0, np.int16)
        self.max = RATE * max_ms // 1000

    def push(self, pcm_mono: np.ndarray):
        self.buf = np.concatenate([self.buf, pcm_mono])[-self.max :]

    def read(self, n: int):
        if len(self.buf) < n:
            return np.zeros(n, np.int16)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


# --------------------------------------------------------------------------- outbound track
class SwitchableAudioTrack(MediaStreamTrack):
    """One track per call leg for its whole life. pts increases monotonically, so the
    RTP timestamp (aiortc's OpusEncoder derives it from frame.pts) never jumps back,
    whatever source is playing. Paced to wall clock like aiortc.AudioStreamTrack."""

    kind = "audio"

    def __init__(self, source=None, on_frame=None):
        super().__init__()
        self.source = source
        self.on_frame = on_frame  # e.g. recorder tap
        self._pts = 0
        self._start = None

    def set_source(self, source):
        self.source = source

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += SAMPLES
            wait = self._start + self._pts / RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        pcm = self.source.read(SAMPLES) if self.source else None
        if pcm is None:
            pcm = np.zeros(SAMPLES, np.int16)
        if self.on_frame:
            self.on_frame(pcm)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        return frame


# --------------------------------------------------------------------------- recorder
class StereoRecorder:
    """Caller = left, agent = right. A 20 ms wall-clock tick pulls 960 samples from each
    side's FIFO (zero-fill on underrun) and encodes one interleaved stereo frame."""

    def __init__(self, path: str, codec: str):
        self.path = path
        self.container = av.open(path, mode="w")
        self.stream = self.container.add_stream(codec, rate=RATE, layout="stereo")
        if codec == "libopus":
            self.stream.bit_rate = 64000
        self.left = np.zeros(0, np.int16)
        self.right = np.zeros(0, np.int16)
        self.pts = 0
        self.task = None

    def feed_left(self, pcm):
        self.left = np.concatenate([self.left, pcm])[-RATE:]

    def feed_right(self, pcm):
        self.right = np.concatenate([self.right, pcm])[-RATE:]

    def _take(self, side):
        buf = getattr(self, side)
        if len(buf) >= SAMPLES:
            out = buf[:SAMPLES]
            setattr(self, side, buf[SAMPLES:])
            return out
        return np.zeros(SAMPLES, np.int16)

    def _write_one(self):
        inter = np.empty(2 * SAMPLES, np.int16)
        inter[0::2] = self._take("left")
        inter[1::2] = self._take("right")
        frame = av.AudioFrame.from_ndarray(inter.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = TIME_BASE
        self.pts += SAMPLES
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    async def _run(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(0, start + n * PTIME - loop.time()))
            self._write_one()

    def start(self):
        self.task = asyncio.ensure_future(self._run())

    async def stop(self):
        if self.task:
            self.task.cancel()
        for packet in self.stream.encode(None):  # flush encoder
            self.container.mux(packet)
        self.container.close()


def fft_peak(pcm: np.ndarray, rate: int = RATE):
    x = pcm.astype(np.float64)
    if len(x) < 1024 or not np.any(x):
        return None, 0.0
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spec[:5] = 0  # ignore DC
    k = int(np.argmax(spec))
    rms = float(np.sqrt(np.mean(x**2))) / 32768
    return k * rate / len(x), rms


# --------------------------------------------------------------------------- app
def make_prompt_wav(path: str, freq=440.0, seconds=3.0):
    """Create a 16 kHz mono WAV 'prompt' (to prove resampling to 48k works)."""
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    with av.open(path, "w") as c:
        s = c.add_stream("pcm_s16le", rate=rate, layout="mono")
        for i in range(0, len(pcm), 1600):
            f = av.AudioFrame.from_ndarray(pcm[i : i + 1600].reshape(1, -1), format="s16", layout="mono")
            f.sample_rate = rate
            f.pts = i
            f.time_base = fractions.Fraction(1, rate)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)


async def index(request):
    with open(os.path.join(HERE, "page.html")) as f:
        return web.Response(text=f.read(), content_type="text/html")


async def ws_handler(request):
    app = request.app
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    res = app["results"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # [] = no STUN (None => Google STUN!)
    rec_wav = StereoRecorder(os.path.join(HERE, "call.wav"), "pcm_s16le")
    rec_ogg = StereoRecorder(os.path.join(HERE, "call.ogg"), "libopus")

    def tap_agent(pcm):
        rec_wav.feed_right(pcm)
        rec_ogg.feed_right(pcm)

    out_track = SwitchableAudioTrack(ToneSource(1000.0), on_frame=tap_agent)
    inbound = []
    t_offer = None

    @pc.on("connectionstatechange")
    async def on_state():
        log("aiortc connectionState", pc.connectionState)
        if pc.connectionState == "connected":
            res["server_offer_to_connected_ms"] = round((time.monotonic() - t_offer) * 1000, 1)

    @pc.on("track")
    def on_track(track):
        log("remote track", track.kind, track.id)

        async def consume():
            first = True
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if first:
                    first = False
                    res["inbound_frame"] = {
                        "format": frame.format.name,
                        "layout": frame.layout.name,
                        "channels": len(frame.layout.channels),
                        "sample_rate": frame.sample_rate,
                        "samples": frame.samples,
                        "pts": frame.pts,
                        "time_base": str(frame.time_base),
                        "ndarray_shape": list(frame.to_ndarray().shape),
                        "ndarray_dtype": str(frame.to_ndarray().dtype),
                    }
                    res["server_offer_to_first_inbound_frame_ms"] = round(
                        (time.monotonic() - t_offer) * 1000, 1
                    )
                # packed s16 stereo -> (samples, channels); the browser mic is mono
                # duplicated to L/R by the Opus decoder, take channel 0
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
                inbound.append(pcm.copy())
                rec_wav.feed_left(pcm)
                rec_ogg.feed_left(pcm)

        app["tasks"].append(asyncio.ensure_future(consume()))

    # one sendrecv audio transceiver: answer's m-line reuses the browser's (addTrack
    # before createAnswer makes aiortc attach our track to the offered transceiver)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        if data["type"] == "offer":
            t_offer = time.monotonic()
            res["offer_has_telephone_event"] = "telephone-event" in data["sdp"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type="offer"))
            pc.addTrack(out_track)
            answer = await pc.createAnswer()
            t_gather = time.monotonic()
            await pc.setLocalDescription(answer)  # waits for ICE gathering
            res["server_setLocalDescription_ms"] = round((time.monotonic() - t_gather) * 1000, 1)
            sdp = pc.localDescription.sdp
            res["answer_has_telephone_event"] = "telephone-event" in sdp
            res["answer_candidates"] = [l for l in sdp.splitlines() if l.startswith("a=candidate")]
            res["server_offer_to_answer_ms"] = round((time.monotonic() - t_offer) * 1000, 1)
            await ws.send_json({"type": "answer", "sdp": sdp})
            if app["record"]:
                rec_wav.start()
                rec_ogg.start()
            app["tasks"].append(asyncio.ensure_future(scenario(app, ws, out_track)))
        elif data["type"] == "dtmf":
            log("DTMF via websocket:", data["digit"])
            res.setdefault("dtmf_via_ws", []).append(data["digit"])
        elif data["type"] == "measure":
            log("browser measure:", data)
            res.setdefault("browser_measures", []).append(data)
        elif data["type"] == "browser_info":
            log("browser info:", data)
            res["browser_info"] = data
        elif data["type"] == "bye":
            break

    # ---- teardown & analysis
    await rec_wav.stop()
    await rec_ogg.stop()
    for t in app["tasks"]:
        t.cancel()
    await pc.close()
    if inbound:
        pcm = np.concatenate(inbound)
        res["inbound_seconds"] = round(len(pcm) / RATE, 2)
        # analyse loud 100 ms windows (fake device: periodic beeps)
        win = RATE // 10
        loud = []
        for i in range(0, len(pcm) - win, win):
            f, r = fft_peak(pcm[i : i + win])
            if r > 0.01:
                loud.append((round(i / RATE, 2), round(f, 1), round(r, 3)))
        res["inbound_loud_windows"] = loud[:40]
        res["inbound_overall_peak_hz"], res["inbound_overall_rms"] = fft_peak(pcm)
    for name in (("call.wav", "call.ogg") if app["record"] else ()):
        path = os.path.join(HERE, name)
        try:
            with av.open(path) as c:
                st = c.streams.audio[0]
                info = {"codec": st.codec_context.name, "rate": st.codec_context.sample_rate,
                        "layout": st.codec_context.layout.name, "bytes": os.path.getsize(path)}
                chans = []
                for fr in c.decode(audio=0):
                    arr = fr.to_ndarray()
                    if fr.format.is_planar:
                        chans.append(arr.T)  # fltp from libopus decoder: (ch, n)
                    else:
                        chans.append(arr.reshape(-1, 2))
                a = np.concatenate(chans).astype(np.float64)
                if a.dtype != np.int16 and np.abs(a).max() <= 1.5:
                    a = a * 32767
                info["seconds"] = round(len(a) / RATE, 2)
                # right channel: first 2 s tone(1 kHz), later the 440 Hz prompt
                info["right_peak_0.5-2.0s_hz"] = fft_peak(a[int(0.5 * RATE) : 2 * RATE, 1])[0]
                info["right_peak_last_2s_hz"] = fft_peak(a[-3 * RATE : -1 * RATE, 1])[0]
                info["left_peak_hz"], info["left_rms"] = fft_peak(a[:, 0])
                res["recording_" + name] = info
        except Exception as e:  # noqa
            res["recording_" + name] = {"error": repr(e)}
    ru = resource.getrusage(resource.RUSAGE_SELF)
    res["server_total_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    res["server_maxrss_mb"] = round(ru.ru_maxrss / 1024, 1)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=2, default=str)
    log("results written")
    app["done"].set()
    return ws


async def scenario(app, ws, track):
    """Tone for N s, then switch the *same* track to the WAV prompt; measure CPU in the
    steady state; tell the browser what is playing so it can label its measurements."""
    res = app["results"]
    secs = app["seconds"]
    await ws.send_json({"type": "playing", "what": "tone1000"})
    await asyncio.sleep(1.0)
    # steady-state CPU of this process over 3 s (1 call: RTP in+out, Opus enc+dec, DTLS/SRTP)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.monotonic()
    await asyncio.sleep(3.0)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    res["server_cpu_pct_one_call"] = round(
        100 * ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) / (time.monotonic() - w0), 1
    )
    track.set_source(FileSource(app["prompt"], loop=True))
    log("switched source -> prompt WAV 440 Hz")
    await ws.send_json({"type": "playing", "what": "prompt440"})
    await asyncio.sleep(max(3.0, secs - 4.0))
    await ws.send_json({"type": "finish"})


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--no-level-patch", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if not args.no_level_patch:
        # rtcrtpsender.py:314 calls rtp.compute_audio_level_dbov(...) through the module
        # attribute, so patching the module attribute is enough. Pinned to 1.16.0.
        import aiortc as _aiortc
        if _aiortc.__version__ == "1.16.0":
            aiortc.rtp.compute_audio_level_dbov = compute_audio_level_dbov_numpy
        else:
            log("aiortc", _aiortc.__version__, "!= 1.16.0: audio-level patch NOT applied")
    prompt = os.path.join(HERE, "prompt440_16k.wav")
    make_prompt_wav(prompt)
    app = web.Application()
    app["results"] = {"level_patch": not args.no_level_patch}
    app["tasks"] = []
    app["done"] = asyncio.Event()
    app["seconds"] = args.seconds
    app["record"] = not args.no_record
    app["results"]["record"] = app["record"]
    app["prompt"] = prompt
    app.router.add_get("/", index)
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    log(f"listening on http://127.0.0.1:{args.port}/  pid={os.getpid()}")
    try:
        await asyncio.wait_for(app["done"].wait(), timeout=args.seconds + 60)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
