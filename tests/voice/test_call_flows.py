"""What agents and callers do during a call, over the real wire and real WebRTC: hold, pause
the recording, transfer, hang up by closing, lose the agent's media; and every bad frame gets
an error that changes nothing."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async

from routing.models import AgentProfile, WorkItem
from routing.services import presence_set
from tests.factories import QueueFactory, QueueMembershipFactory
from tests.voice.wire import Scene, loudness, peak, send, until
from voice import services
from voice.models import Call, CallEvent, QueueVoice, Recording

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def scene():
    scene = Scene()
    yield scene
    await scene.close()


async def events_of(call) -> list[str]:
    return await sync_to_async(lambda: list(CallEvent.objects.filter(call=call).values_list("kind", flat=True)))()


async def wait_for(predicate, within: float = 15.0):
    async with asyncio.timeout(within):
        while not await sync_to_async(predicate)():  # noqa: ASYNC110 - rows, not an event
            await asyncio.sleep(0.1)


async def test_hold_plays_music_to_the_caller_silence_to_the_agent_and_pauses_the_recording(
    voice_queue, ready_agent, recordings, media_process, scene
):
    workspace = await scene.workspace(ready_agent)
    call, caller_socket, caller = await scene.caller(voice_queue)
    agent = await scene.answer(workspace, str(call.pk))
    await caller.hears(25)
    assert abs(peak(await caller.hears(50)) - 1300) < 15

    loop = asyncio.get_running_loop()
    talk_started = loop.time()
    await send(workspace, {"type": "call_hold", "call_id": str(call.pk), "on": True})
    assert (await until(caller_socket, lambda f: f.get("state") == "on_hold"))["recorded"]
    await caller.hears(10)
    held = await caller.hears(100)
    assert abs(peak(held) - 1300) > 50, "the caller still hears the agent on hold"
    assert loudness(held) > 300, "no hold music"
    assert loudness(await agent.hears(50)) < 50, "the agent hears the caller on hold"
    await asyncio.sleep(1.0)

    await send(workspace, {"type": "call_hold", "call_id": str(call.pk), "on": False})
    await until(caller_socket, lambda f: f.get("state") == "talking")
    await caller.hears(10)
    assert abs(peak(await caller.hears(50)) - 1300) < 15
    assert abs(peak(await agent.hears(50)) - 700) < 15
    await send(workspace, {"type": "call_hangup", "call_id": str(call.pk)})
    await until(caller_socket, lambda f: f.get("state") == "ended")
    call_seconds = loop.time() - talk_started

    await wait_for(Recording.objects.filter(call_id=call.pk).exists)
    recording = await sync_to_async(Recording.objects.get)(call_id=call.pk)
    from tests.voice.wire import recording_channels

    recorded_seconds = len(recording_channels(recording.path.read_bytes(), *recordings)) / 48_000
    # About 3 s on hold were left out of a recording of the whole call.
    assert recorded_seconds < call_seconds - 2.0, (recorded_seconds, call_seconds)
    assert ["held", "resumed"] == [k for k in await events_of(call) if k in ("held", "resumed")]


async def test_an_agent_pauses_and_starts_recording_where_the_queue_does_not_record(
    queue, ready_agent, recordings, media_process, scene
):
    queue.channels = ["chat", "voice"]
    await sync_to_async(queue.save)()
    workspace = await scene.workspace(ready_agent)
    call, caller_socket, _caller = await scene.caller(queue)
    assert not call.record
    await scene.answer(workspace, str(call.pk))

    await send(workspace, {"type": "call_recording", "call_id": str(call.pk), "action": "pause"})
    error = await until(workspace, lambda f: f["type"] == "error")
    assert error["code"] == "wrong_state"
    await send(workspace, {"type": "call_recording", "call_id": str(call.pk), "action": "start"})
    state = await until(workspace, lambda f: f["type"] == "call_state" and f["recording"]["on"])
    assert not state["recording"]["paused"]
    await until(caller_socket, lambda f: f["type"] == "state" and f["recorded"])
    await asyncio.sleep(1.0)
    await send(workspace, {"type": "call_recording", "call_id": str(call.pk), "action": "pause"})
    await until(workspace, lambda f: f["type"] == "call_state" and f["recording"]["paused"])
    await send(workspace, {"type": "call_hangup", "call_id": str(call.pk)})
    await until(caller_socket, lambda f: f.get("state") == "ended")
    await wait_for(Recording.objects.filter(call_id=call.pk).exists)
    assert "recording_start" in await events_of(call)


async def test_a_transfer_sends_the_caller_to_another_queue_whose_agent_answers(
    voice_queue, ready_agent, recordings, media_process, scene
):
    second_queue = await sync_to_async(QueueFactory)(name="Rent arrears", always_open=True, channels=["voice"])
    colleague = await sync_to_async(
        lambda: (
            QueueMembershipFactory(
                queue=second_queue, agent__user__username="bertta", agent__user__first_name="Bertta"
            ).agent
        )
    )()
    await sync_to_async(presence_set)(agent=colleague, presence="ready")
    first, second = await scene.workspace(ready_agent), await scene.workspace(colleague)
    call, caller_socket, caller = await scene.caller(voice_queue)
    await scene.answer(first, str(call.pk))

    await send(first, {"type": "call_transfer", "call_id": str(call.pk), "queue_id": second_queue.pk})
    assert (await until(first, lambda f: f["type"] == "call_left"))["reason"] == "transferred"
    await until(caller_socket, lambda f: f["type"] == "state" and f["state"] == "queued")
    colleague_phone = await scene.answer(second, str(call.pk), frequency=1900)
    talking = await until(caller_socket, lambda f: f.get("state") == "talking")
    assert talking["agent"]["name"] == "Bertta"
    await caller.hears(25)
    assert abs(peak(await caller.hears(50)) - 1900) < 15
    assert abs(peak(await colleague_phone.hears(50)) - 700) < 15

    await send(caller_socket, {"type": "hangup"})
    await until(second, lambda f: f["type"] == "call_state" and f["state"] == "ended")
    await wait_for(lambda: Recording.objects.filter(call_id=call.pk).count() == 2)
    recorded = Recording.objects.filter(call_id=call.pk)
    agents = await sync_to_async(lambda: set(recorded.values_list("agent", flat=True)))()
    assert agents == {ready_agent.pk, colleague.pk}
    item = await sync_to_async(WorkItem.objects.get)(reference=str(call.pk))
    assert (item.state, item.agent_id, item.queue_id) == (WorkItem.State.DONE, colleague.pk, second_queue.pk)


async def test_a_caller_who_closes_the_page_ends_the_call_and_frees_the_agent(
    voice_queue, ready_agent, recordings, media_process, scene
):
    workspace = await scene.workspace(ready_agent)
    call, caller_socket, _caller = await scene.caller(voice_queue)
    await scene.answer(workspace, str(call.pk))
    assert (await sync_to_async(AgentProfile.objects.get)(pk=ready_agent.pk)).calls_held == 1

    await caller_socket.disconnect(code=1001)
    ended = await until(workspace, lambda f: f["type"] == "call_state" and f["state"] == "ended")
    assert ended["call_id"] == str(call.pk)
    stored = await sync_to_async(Call.objects.get)(pk=call.pk)
    assert stored.end_reason == Call.EndReason.CALLER_HUNG_UP
    assert (await sync_to_async(AgentProfile.objects.get)(pk=ready_agent.pk)).calls_held == 0


async def test_when_the_agents_media_is_lost_the_caller_waits_again(
    voice_queue, ready_agent, recordings, media_process, scene
):
    workspace = await scene.workspace(ready_agent)
    call, caller_socket, caller = await scene.caller(voice_queue)
    agent = await scene.answer(workspace, str(call.pk))
    await agent.hang_up()  # the agent's browser closes its connection (a crash, a lost network)

    assert (await until(workspace, lambda f: f["type"] == "call_left", within=40))["reason"] == "agent_lost"
    await until(caller_socket, lambda f: f["type"] == "state" and f["state"] == "queued", within=5)
    await caller.hears(10)
    assert loudness(await caller.hears(50)) > 300, "no hold music after the agent was lost"
    assert "agent_lost" in await events_of(call)


async def test_bad_frames_get_errors_and_change_nothing(voice_queue, ready_agent, recordings, media_process, scene):
    workspace = await scene.workspace(ready_agent)
    call, caller_socket, _caller = await scene.caller(voice_queue)
    call_id = str(call.pk)
    await until(workspace, lambda f: f["type"] == "call_offer")

    async def refused(socket, frame, code):
        await send(socket, frame)
        error = await until(socket, lambda f: f["type"] == "error")
        assert error["code"] == code, (frame, error)

    await refused(caller_socket, {"type": "digit", "digit": "x"}, "invalid")
    await refused(caller_socket, {"type": "digit", "digit": 5}, "invalid")
    await refused(caller_socket, {"type": "sdp", "sdp": "hello"}, "invalid")
    await refused(caller_socket, {"type": "sdp", "sdp": "v=0" + "x" * 40_000}, "too_large")
    await refused(workspace, {"type": "call_accept", "call_id": "nope"}, "invalid")
    await refused(workspace, {"type": "call_hold", "call_id": call_id, "on": True}, "not_yours")
    await refused(workspace, {"type": "call_hangup", "call_id": call_id}, "not_yours")
    await refused(workspace, {"type": "call_sdp", "call_id": call_id, "sdp": "v=0\r\n"}, "not_yours")

    await send(workspace, {"type": "call_accept", "call_id": call_id})
    await until(workspace, lambda f: f["type"] == "call_assigned")
    await refused(workspace, {"type": "call_hold", "call_id": call_id, "on": "yes"}, "invalid")
    await refused(workspace, {"type": "call_hold", "call_id": call_id, "on": True}, "wrong_state")  # not talking yet
    await refused(workspace, {"type": "call_recording", "call_id": call_id, "action": "louder"}, "invalid")
    await refused(workspace, {"type": "call_transfer", "call_id": call_id, "queue_id": "1"}, "invalid")
    chat_only = await sync_to_async(QueueFactory)(name="Chat only", always_open=True)
    await refused(workspace, {"type": "call_transfer", "call_id": call_id, "queue_id": chat_only.pk}, "invalid")
    stored = await sync_to_async(Call.objects.get)(pk=call_id)
    assert (stored.state, stored.agent_id, stored.record) == (Call.State.QUEUED, ready_agent.pk, True)

    # A media offer the media process cannot parse fails the agent's leg, not the call: the
    # caller waits again, as when an agent's media is lost.
    await send(workspace, {"type": "call_sdp", "call_id": call_id, "sdp": "v=0\r\nnot really\r\n"})
    assert (await until(workspace, lambda f: f["type"] == "error"))["code"] == "media_failed"
    assert (await until(workspace, lambda f: f["type"] == "call_left"))["reason"] == "agent_lost"
    stored = await sync_to_async(Call.objects.get)(pk=call_id)
    assert stored.state == Call.State.QUEUED
    assert (await until(caller_socket, lambda f: f["type"] == "state"))["state"] == "queued"


async def test_a_new_media_process_ends_the_calls_an_old_one_held(voice_queue, ready_agent, recordings):
    await sync_to_async(QueueVoice.objects.filter(queue=voice_queue).update)(record_calls=False)  # no notice: queued
    call, _token = await sync_to_async(services.call_start)(queue=voice_queue, locale="en")
    await sync_to_async(services.leg_connected)(call_id=call.pk, leg="caller")
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).state == Call.State.QUEUED
    assert await sync_to_async(services.calls_end_unmanaged)() == 1
    stored = await sync_to_async(Call.objects.get)(pk=call.pk)
    assert (stored.state, stored.end_reason) == (Call.State.ENDED, Call.EndReason.MEDIA_FAILED)
    item = await sync_to_async(WorkItem.objects.get)(reference=str(call.pk))
    assert item.state == WorkItem.State.ABANDONED


async def test_a_blind_transfer_hands_the_caller_straight_to_a_colleague(
    voice_queue, ready_agent, recordings, media_process, scene
):
    from tests.voice.wire import Phone

    colleague = await sync_to_async(
        lambda: (
            QueueMembershipFactory(
                queue=voice_queue, agent__user__username="bertta", agent__user__first_name="Bertta"
            ).agent
        )
    )()
    await sync_to_async(presence_set)(agent=colleague, presence="not_ready")  # busy with notes: still reachable
    first, second = await scene.workspace(ready_agent), await scene.workspace(colleague)
    call, caller_socket, caller = await scene.caller(voice_queue)
    call_id = str(call.pk)
    await scene.answer(first, call_id)

    await send(first, {"type": "call_transfer", "call_id": call_id, "agent_id": ready_agent.pk})
    assert (await until(first, lambda f: f["type"] == "error"))["code"] == "invalid"  # not to oneself
    await send(first, {"type": "call_transfer", "call_id": call_id, "agent_id": colleague.pk})
    assert (await until(first, lambda f: f["type"] == "call_left"))["reason"] == "transferred"
    assigned = await until(second, lambda f: f["type"] == "call_assigned")
    assert assigned["call_id"] == call_id
    phone = Phone(1900)
    scene.phones.append(phone)
    await send(second, {"type": "call_sdp", "call_id": call_id, "sdp": await phone.offer()})
    await phone.answered((await until(second, lambda f: f["type"] == "call_sdp"))["sdp"])
    await until(caller_socket, lambda f: f.get("state") == "queued")  # music until the colleague is on
    talking = await until(caller_socket, lambda f: f.get("state") == "talking")
    assert talking["agent"]["name"] == "Bertta"
    await caller.hears(25)
    assert abs(peak(await caller.hears(50)) - 1900) < 15
    assert abs(peak(await phone.hears(50)) - 700) < 15
    held = await sync_to_async(lambda: {a.pk: a.calls_held for a in AgentProfile.objects.all()})()
    assert (held[ready_agent.pk], held[colleague.pk]) == (0, 1)
    assert "transferred_to_agent" in await events_of(call)


async def test_an_agent_on_a_call_is_offered_no_chat_until_the_call_ends(
    voice_queue, widget, ready_agent, recordings, media_process, scene
):
    from chat import services as chat

    workspace = await scene.workspace(ready_agent)
    call, caller_socket, _caller = await scene.caller(voice_queue)
    await scene.answer(workspace, str(call.pk))
    conversation, _token = await sync_to_async(chat.conversation_start)(widget=widget, prechat={}, locale="en")
    loop = asyncio.get_running_loop()
    quiet_until = loop.time() + 2.0
    # receive_nothing, not a timed receive: a receive that times out cancels the consumer.
    while not await workspace.receive_nothing(timeout=max(0.01, quiet_until - loop.time())):
        frame = json.loads(await workspace.receive_from())
        assert frame["type"] != "offer", "an agent on a call was offered a chat"
        if loop.time() > quiet_until:
            break

    await send(workspace, {"type": "call_hangup", "call_id": str(call.pk)})
    offer = await until(workspace, lambda f: f["type"] == "offer", within=10.0)
    assert offer["conversation_id"] == str(conversation.pk)


async def test_a_lost_caller_socket_leaves_the_call_on_and_a_reconnect_picks_it_up(
    voice_queue, ready_agent, recordings, media_process, scene
):
    from tests.voice.wire import connect

    workspace = await scene.workspace(ready_agent)
    call, caller_socket, caller = await scene.caller(voice_queue)
    await scene.answer(workspace, str(call.pk))
    token = await sync_to_async(lambda: services.caller_token_for(Call.objects.get(pk=call.pk)))()

    await caller_socket.disconnect(code=1006)  # the socket alone: a network blip
    await caller.hears(25)
    assert abs(peak(await caller.hears(50)) - 1300) < 15  # the call goes on
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).state == Call.State.TALKING

    again = await connect("/ws/call/")
    scene.sockets.append(again)
    await send(again, {"type": "auth", "token": token})
    assert (await until(again, lambda f: f["type"] == "state"))["state"] == "talking"
    await send(again, {"type": "hangup"})
    await until(workspace, lambda f: f["type"] == "call_state" and f["state"] == "ended")
