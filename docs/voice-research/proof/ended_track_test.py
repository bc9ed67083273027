"""What happens when the sender's track ends (e.g. MediaPlayer reaches EOF), and does
replaceTrack() afterwards resume sending? (aiortc 1.16.0)"""
import asyncio, time
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.contrib.media import MediaPlayer
from voice_server import SwitchableAudioTrack, ToneSource, make_prompt_wav

async def main():
    make_prompt_wav("prompt440_16k.wav", seconds=1.0)
    a = RTCPeerConnection(RTCConfiguration(iceServers=[])); b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender = a.addTrack(MediaPlayer("prompt440_16k.wav").audio)
    b.addTransceiver("audio", direction="recvonly")
    got = []
    def on_track(t):
        async def eat():
            while True:
                await t.recv(); got.append(time.monotonic())
        asyncio.ensure_future(eat())
    b.on("track", on_track)
    await a.setLocalDescription(await a.createOffer()); await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer()); await a.setRemoteDescription(b.localDescription)
    t0 = time.monotonic()
    await asyncio.sleep(2.5)
    n1 = len(got)
    sender.replaceTrack(SwitchableAudioTrack(ToneSource(1000)))
    await asyncio.sleep(1.5)
    print(f"frames received in first 2.5 s (1 s file): {n1}; after replaceTrack (+1.5 s): {len(got)-n1}; sender.track={sender.track}")
    await a.close(); await b.close()
asyncio.run(main())
