"""The wire of a call, for tests: sockets through the real ASGI app, and a browser's side of
the media over real WebRTC (aiortc, Opus as with a browser)."""

import asyncio
import io
import json

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from channels.testing import WebsocketCommunicator

from contactcenter.asgi import application
from voice import sealing
from voice.media.audio import LegTrack, Tone
from voice.media.legs import mono


async def connect(path):
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def send(communicator, frame):
    await communicator.send_to(text_data=json.dumps(frame))


async def until(communicator, predicate, within=10.0):
    seen = []
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await communicator.receive_from(timeout=within))
            seen.append(frame)
            if predicate(frame):
                return frame


class Phone:
    """A browser's side of a call: sends a tone, keeps what it hears."""

    def __init__(self, frequency: float):
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.voice = LegTrack()
        self.voice.play(Tone(frequency, level=-6))
        self.connection.addTrack(self.voice)
        self.heard: list[np.ndarray] = []
        self.arrived = asyncio.Event()
        self.listening = None
        self.connection.on(
            "track", lambda remote: setattr(self, "listening", asyncio.ensure_future(self._listen(remote)))
        )

    async def _listen(self, remote):
        while True:
            self.heard.append(mono(await remote.recv()))
            self.arrived.set()

    async def offer(self) -> str:
        await self.connection.setLocalDescription(await self.connection.createOffer())
        return self.connection.localDescription.sdp

    async def answered(self, sdp: str) -> None:
        await self.connection.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def call(self, leg) -> None:
        """Call a media leg directly (no socket): offer, and take its answer."""
        await self.answered(await leg.answer(await self.offer()))

    async def hears(self, frames: int) -> np.ndarray:
        start = len(self.heard)
        async with asyncio.timeout(20):
            while len(self.heard) < start + frames:
                await self.arrived.wait()
                self.arrived.clear()
        return np.concatenate(self.heard[start : start + frames])

    async def hang_up(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
        await self.connection.close()


def recording_channels(envelope: bytes, certificate_path, key_path) -> np.ndarray:
    audio = sealing.unseal(envelope, sealing.load_certificate(certificate_path), sealing.load_private_key(key_path))
    samples = []
    with av.open(io.BytesIO(audio)) as container:
        for frame in container.decode(audio=0):
            samples.append(frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed else frame.to_ndarray().T)
    return np.concatenate(samples)


class Scene:
    """A caller and the agents' workspaces, driven frame by frame; `close()` hangs everything up."""

    def __init__(self):
        self.sockets: list[WebsocketCommunicator] = []
        self.phones: list[Phone] = []

    async def workspace(self, agent) -> WebsocketCommunicator:
        from channels.db import database_sync_to_async
        from rest_framework.authtoken.models import Token

        key = await database_sync_to_async(lambda: Token.objects.get_or_create(user=agent.user)[0].key)()
        socket = await connect("/ws/agent/")
        self.sockets.append(socket)
        await send(socket, {"type": "auth", "token": key})
        await until(socket, lambda f: f["type"] == "presence")
        return socket

    async def caller(self, queue, frequency: float = 700, **start) -> tuple:
        """A caller who rang, connected media and waits in `queue`: (call, socket, phone)."""
        from channels.db import database_sync_to_async

        from voice import services

        call, token = await database_sync_to_async(services.call_start)(queue=queue, locale="en", **start)
        socket = await connect("/ws/call/")
        self.sockets.append(socket)
        await send(socket, {"type": "auth", "token": token})
        await until(socket, lambda f: f["type"] == "state")
        phone = Phone(frequency)
        self.phones.append(phone)
        await send(socket, {"type": "sdp", "sdp": await phone.offer()})
        await phone.answered((await until(socket, lambda f: f["type"] == "sdp"))["sdp"])
        await until(socket, lambda f: f.get("state") == "queued")
        return call, socket, phone

    async def answer(self, workspace, call_id: str, frequency: float = 1300) -> Phone:
        """The agent takes the offered call and connects media; returns once they talk."""
        await until(workspace, lambda f: f["type"] == "call_offer" and f["call_id"] == call_id)
        await send(workspace, {"type": "call_accept", "call_id": call_id})
        await until(workspace, lambda f: f["type"] == "call_assigned" and f["call_id"] == call_id)
        phone = Phone(frequency)
        self.phones.append(phone)
        await send(workspace, {"type": "call_sdp", "call_id": call_id, "sdp": await phone.offer()})
        await phone.answered((await until(workspace, lambda f: f["type"] == "call_sdp"))["sdp"])
        await until(workspace, lambda f: f["type"] == "call_state" and f["state"] == "talking")
        return phone

    async def close(self) -> None:
        for phone in self.phones:
            await phone.hang_up()
        for socket in self.sockets:
            await socket.disconnect()


def peak(samples: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(samples)


def loudness(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def tone_strength(samples: np.ndarray, frequency: float, rate: int = 48_000) -> float:
    """How far a tone at `frequency` stands above the spectrum's median (a ratio)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    resolution = rate / len(samples)
    low, high = int((frequency - 15) / resolution), int((frequency + 15) / resolution) + 1
    return float(spectrum[low:high].max() / max(np.median(spectrum), 1e-9))
