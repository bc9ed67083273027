"""A web call end to end over the real wire: the caller's socket and the workspace socket
through the ASGI app, the media process on the Redis channel layer, PostgreSQL, and real
WebRTC (aiortc parties standing in for the browsers, Opus as with them)."""

import asyncio
import io
import json

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from contactcenter.asgi import application
from routing.models import WorkItem
from tests.voice.test_audio import peak_hz
from tests.voice.test_legs import rms
from voice import sealing, services
from voice.media import aiortc_patches
from voice.media.audio import RATE, LegTrack, Tone
from voice.media.legs import mono
from voice.media.worker import MediaWorker
from voice.models import Call, CallEvent, QueueVoice, Recording

pytestmark = pytest.mark.django_db(transaction=True)


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


@pytest.fixture
def recordings(settings, tmp_path):
    certificate, key = tmp_path / "recordings.crt", tmp_path / "recordings.key"
    sealing.write_pair(certificate, key)
    settings.CC_RECORDINGS_CERTIFICATE = str(certificate)
    settings.CC_RECORDINGS_DIR = tmp_path / "recordings"
    return certificate, key


@pytest.fixture
def voice_queue(queue):
    queue.channels = ["chat", "voice"]
    queue.save()
    QueueVoice.objects.create(queue=queue, record_calls=True)
    return queue


@pytest.fixture
async def media_process():
    aiortc_patches.install()
    worker = MediaWorker()
    task = asyncio.create_task(worker.serve())
    async with asyncio.timeout(10):
        await worker.ready.wait()
    yield worker
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def recording_channels(envelope: bytes, certificate_path, key_path) -> np.ndarray:
    audio = sealing.unseal(envelope, sealing.load_certificate(certificate_path), sealing.load_private_key(key_path))
    samples = []
    with av.open(io.BytesIO(audio)) as container:
        for frame in container.decode(audio=0):
            samples.append(frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed else frame.to_ndarray().T)
    return np.concatenate(samples)


async def test_a_web_call_queues_is_answered_both_hear_each_other_and_the_recording_is_sealed_in_stereo(
    voice_queue, ready_agent, recordings, media_process
):
    token = await sync_to_async(lambda: Token.objects.create(user=ready_agent.user).key)()
    workspace = await connect("/ws/agent/")
    await send(workspace, {"type": "auth", "token": token})
    await until(workspace, lambda f: f["type"] == "presence")

    call, caller_token = await sync_to_async(services.call_start)(queue=voice_queue, locale="fi", caller_name="Liisa")
    assert call.record
    caller_socket = await connect("/ws/call/")
    await send(caller_socket, {"type": "auth", "token": caller_token})
    assert (await until(caller_socket, lambda f: f["type"] == "state"))["state"] == "connecting"

    caller, agent = Phone(700), Phone(1300)
    try:
        await send(caller_socket, {"type": "sdp", "sdp": await caller.offer()})
        await caller.answered((await until(caller_socket, lambda f: f["type"] == "sdp"))["sdp"])
        await until(caller_socket, lambda f: f.get("state") == "queued")
        # Waiting, the caller hears hold music: not silence.
        assert rms(await caller.hears(50)) > 300

        offer = await until(workspace, lambda f: f["type"] == "call_offer")
        assert offer["call_id"] == str(call.pk)
        assert offer["caller"]["name"] == "Liisa"
        await send(workspace, {"type": "call_accept", "call_id": str(call.pk)})
        await until(workspace, lambda f: f["type"] == "call_assigned")
        await send(workspace, {"type": "call_sdp", "call_id": str(call.pk), "sdp": await agent.offer()})
        await agent.answered((await until(workspace, lambda f: f["type"] == "call_sdp"))["sdp"])
        talking = await until(caller_socket, lambda f: f.get("state") == "talking")
        assert talking["agent"]["name"] == "Aino"
        assert talking["recorded"]
        await until(workspace, lambda f: f["type"] == "call_state" and f["state"] == "talking")

        await caller.hears(25)  # the codec settles
        assert abs(peak_hz(await caller.hears(50)) - 1300) < 15
        assert abs(peak_hz(await agent.hears(50)) - 700) < 15

        # An agent on a call is offered no chat (calls block chats by default).
        agent_row = await sync_to_async(lambda: type(ready_agent).objects.get(pk=ready_agent.pk))()
        assert agent_row.calls_held == 1

        await send(workspace, {"type": "call_hangup", "call_id": str(call.pk)})
        ended = await until(caller_socket, lambda f: f.get("state") == "ended")
        assert ended["end_reason"] == "agent_hung_up"
    finally:
        await caller.hang_up()
        await agent.hang_up()
        await caller_socket.disconnect()
        await workspace.disconnect()

    async with asyncio.timeout(15):
        while not await sync_to_async(Recording.objects.filter(call_id=call.pk).exists)():  # noqa: ASYNC110 - a row, not an event
            await asyncio.sleep(0.1)
    recording = await sync_to_async(Recording.objects.get)(call_id=call.pk)
    envelope = recording.path.read_bytes()
    assert b"OggS" not in envelope  # sealed: nothing of the audio shows
    channels = recording_channels(envelope, *recordings)
    assert abs(peak_hz(channels[RATE : RATE * 2, 0]) - 700) < 15
    assert abs(peak_hz(channels[RATE : RATE * 2, 1]) - 1300) < 15
    assert recording.keep_until > recording.ended_at

    item = await sync_to_async(WorkItem.objects.get)(reference=str(call.pk))
    assert item.state == WorkItem.State.DONE
    kinds = await sync_to_async(lambda: list(CallEvent.objects.filter(call=call).values_list("kind", flat=True)))()
    assert kinds[:5] == ["started", "queued", "assigned", "answered", "ended"]
    assert "recorded" in kinds
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).state == Call.State.ENDED
