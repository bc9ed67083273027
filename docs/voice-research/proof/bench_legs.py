"""CPU per aiortc audio leg: N in-process aiortc<->aiortc pairs (2N peer connections),
each sending a 48 kHz mono tone (Opus) and consuming what it receives.
usage: /tmp/vtest/bin/python bench_legs.py N [--no-level-patch]"""
import asyncio, resource, sys, time
import aiortc.rtp
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from voice_server import SwitchableAudioTrack, ToneSource, compute_audio_level_dbov_numpy

async def consume(track):
    while True:
        try:
            f = await track.recv()
            f.to_ndarray()
        except MediaStreamError:
            return

async def pair(tasks):
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for pc, f in ((a, 1000.0), (b, 700.0)):
        pc.addTrack(SwitchableAudioTrack(ToneSource(f)))
        pc.on("track", lambda t: tasks.append(asyncio.ensure_future(consume(t))))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    return a, b

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime

async def main():
    n = int(sys.argv[1])
    if "--no-level-patch" not in sys.argv:
        aiortc.rtp.compute_audio_level_dbov = compute_audio_level_dbov_numpy
    tasks = []
    t = time.monotonic()
    pcs = [await pair(tasks) for _ in range(n)]
    while not all(p.connectionState == "connected" for ab in pcs for p in ab):
        await asyncio.sleep(0.05)
    setup = time.monotonic() - t
    await asyncio.sleep(1.0)
    c0, w0 = cpu(), time.monotonic()
    await asyncio.sleep(float(__import__("os").environ.get("BENCH_SECS", "5")))
    pct = 100 * (cpu() - c0) / (time.monotonic() - w0)
    print(f"pairs={n} legs={2*n} level_patch={'--no-level-patch' not in sys.argv} setup={setup:.2f}s "
          f"cpu={pct:.1f}% of one core  => {pct/(2*n):.1f}% per leg")
    for t in tasks: t.cancel()
    for a, b in pcs:
        await a.close(); await b.close()

asyncio.run(main())
