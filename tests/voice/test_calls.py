"""A web call end to end over the real wire: the caller's socket and the workspace socket
through the ASGI app, the media process on the Redis channel layer, PostgreSQL, and real
WebRTC (aiortc parties standing in for the browsers, Opus as with them)."""

import asyncio

import pytest
from channels.db import database_sync_to_async as sync_to_async
from rest_framework.authtoken.models import Token

from routing.models import WorkItem
from tests.voice.test_audio import peak_hz
from tests.voice.test_legs import rms
from tests.voice.wire import Phone, connect, recording_channels, send, until
from voice import services
from voice.media.audio import RATE
from voice.models import Call, CallEvent, Recording

pytestmark = pytest.mark.django_db(transaction=True)


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
    # The queue records: the caller first hears "This call is recorded" (the menu step).
    assert kinds[:7] == ["started", "ivr", "menu_done", "queued", "assigned", "answered", "ended"]
    assert "recorded" in kinds
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).state == Call.State.ENDED
