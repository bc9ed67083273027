"""Voice media cost (issue 8): bridged calls in one media process, and callers on hold.

    .venv/bin/python bench/voice.py --calls 4 --hold 20 --seconds 15

The media process runs the media engine the media worker runs (voice/media/engine.py): each
call is two legs bridged to each other and recorded (caller left, agent right, Ogg/Opus, in
memory until sealed); each caller on hold is one leg hearing the built-in hold music. The parties
(aiortc too, speaking tones over Opus, as browsers would) run in this process, so only the
media side is measured: its CPU per bridged call and per caller on hold, and its memory.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def media_side(pipe, record_dir: str) -> None:
    """The measured process: the media engine the media worker runs (voice/media/engine.py)
    answers offers, bridges and records each call, and plays the built-in hold music to each
    caller on hold, as `manage.py media_worker` does on the channel layer's commands."""
    from voice.media.engine import AGENT, CALLER, AiortcEngine

    class Tally:
        """What the engine reports; a bench has no database, so it counts."""

        def __init__(self):
            self.connected = self.lost = self.recorded_bytes = 0

        async def leg_connected(self, call_id, leg):
            self.connected += 1

        async def leg_lost(self, call_id, leg):
            self.lost += 1

        async def recording_done(self, call_id, agent_id, audio, started_at, ended_at):
            (Path(record_dir) / f"{call_id}.ogg").write_bytes(audio)
            self.recorded_bytes += len(audio)

    async def serve() -> None:
        tally = Tally()
        engine = AiortcEngine(tally)
        loop = asyncio.get_running_loop()
        pipe.send("ready")
        count = 0
        while True:
            request = await loop.run_in_executor(None, pipe.recv)
            if request["kind"] == "stop":
                break
            count += 1
            call_id = f"bench-{count}"
            if request["kind"] == "call":
                answers = [
                    await engine.leg_open(call_id, CALLER, request["offers"][0]),
                    await engine.leg_open(call_id, AGENT, request["offers"][1]),
                ]
                await engine.bridge(call_id, record=True, masked=False, agent_id=None)
                pipe.send(answers)
            elif request["kind"] == "hold":
                answer = await engine.leg_open(call_id, CALLER, request["offer"])
                await engine.wait(call_id)
                pipe.send(answer)
        await engine.close()
        pipe.send("stopped")

    asyncio.run(serve())


async def run(args) -> dict:
    import psutil
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaBlackhole

    from voice.media.audio import LegTrack, Tone

    parent, child = multiprocessing.Pipe()
    record_dir = tempfile.mkdtemp(prefix="cc-voice-bench-")
    process = multiprocessing.get_context("spawn").Process(target=media_side, args=(child, record_dir), daemon=True)
    process.start()
    media = psutil.Process(process.pid)
    loop = asyncio.get_running_loop()
    parties: list[RTCPeerConnection] = []
    sinks: list[MediaBlackhole] = []

    async def party(frequency: float) -> tuple[RTCPeerConnection, str]:
        connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        voice = LegTrack()
        voice.play(Tone(frequency))
        connection.addTrack(voice)
        sink = MediaBlackhole()
        connection.on("track", sink.addTrack)
        sinks.append(sink)
        await connection.setLocalDescription(await connection.createOffer())
        parties.append(connection)
        return connection, connection.localDescription.sdp

    async def ask(request: dict):
        parent.send(request)
        return await loop.run_in_executor(None, parent.recv)

    async def measure(seconds: float) -> tuple[float, int]:
        media.cpu_percent(None)
        await asyncio.sleep(seconds)
        return media.cpu_percent(None) / 100, media.memory_info().rss

    assert await loop.run_in_executor(None, parent.recv) == "ready"  # imports done: idle means idle
    idle_cores, idle_rss = await measure(3)
    for number in range(args.calls):
        (caller, offer_a), (agent, offer_b) = await party(700 + number), await party(1300 + number)
        answer_a, answer_b = await ask({"kind": "call", "offers": [offer_a, offer_b]})
        await caller.setRemoteDescription(RTCSessionDescription(sdp=answer_a, type="answer"))
        await agent.setRemoteDescription(RTCSessionDescription(sdp=answer_b, type="answer"))
    for sink in sinks:
        await sink.start()
    await asyncio.sleep(2)  # connections settle
    calls_cores, calls_rss = await measure(args.seconds)
    held_sinks = len(sinks)
    for _ in range(args.hold):
        waiting, offer = await party(500)
        answer = await ask({"kind": "hold", "offer": offer})
        await waiting.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for sink in sinks[held_sinks:]:
        await sink.start()
    await asyncio.sleep(2)
    hold_cores, hold_rss = await measure(args.seconds)
    await ask({"kind": "stop"})
    for connection in parties:
        await connection.close()
    process.join(10)
    return {
        "calls": args.calls,
        "hold": args.hold,
        "idle_cores": idle_cores,
        "cores_per_call": (calls_cores - idle_cores) / max(args.calls, 1),
        "cores_per_held_caller": (hold_cores - calls_cores) / max(args.hold, 1),
        "rss_mib_per_call": (calls_rss - idle_rss) / 2**20 / max(args.calls, 1),
        "record_dir": record_dir,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4, help="bridged, recorded calls")
    parser.add_argument("--hold", type=int, default=20, help="callers on hold, hearing a looped prompt")
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time of each phase")
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args))
    recordings = sorted(path.stat().st_size for path in Path(result["record_dir"]).glob("*.ogg"))
    print(  # noqa: T201
        f"voice: {result['calls']} bridged recorded calls, {result['cores_per_call']:.3f} cores per call "
        f"({result['rss_mib_per_call']:.1f} MiB each); {result['hold']} on hold, "
        + (f"{result['cores_per_held_caller']:.3f} cores per held caller" if result["hold"] else "none measured")
        + f"; idle media process {result['idle_cores']:.3f} "
        f"cores; recordings {recordings} bytes; {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
