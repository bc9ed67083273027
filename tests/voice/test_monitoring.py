"""Silent monitoring (V7) over the real wire and real WebRTC: a supervisor hears both sides of
a live call; a whisper reaches the agent and never the caller; whether the agent is shown the
listener is the queue's setting, and a whisper is always shown."""

import pytest
from channels.db import database_sync_to_async as sync_to_async
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.voice.wire import Phone, Scene, connect, send, tone_strength, until
from voice.models import CallEvent, QueueVoice

pytestmark = pytest.mark.django_db(transaction=True)

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 700, 1300, 1900


@pytest.fixture
async def scene():
    scene = Scene()
    yield scene
    await scene.close()


def hears(samples, frequency: float, *, beside: float) -> bool:
    """A tone of `frequency` is heard, at least a tenth as strong as the one of `beside` (codec
    artefacts of a single tone stay well under a hundredth)."""
    return tone_strength(samples, frequency) > tone_strength(samples, beside) / 10


async def supervisor_socket(scene, user):
    key = await sync_to_async(lambda: Token.objects.get_or_create(user=user)[0].key)()
    socket = await connect("/ws/supervisor/")
    scene.sockets.append(socket)
    await send(socket, {"type": "auth", "token": key})
    await until(socket, lambda f: f["type"] == "overview")
    return socket


async def listen(scene, socket, call_id) -> Phone:
    phone = Phone(SUPERVISOR_HZ)
    scene.phones.append(phone)
    await send(socket, {"type": "call_listen", "call_id": call_id, "sdp": await phone.offer()})
    await phone.answered((await until(socket, lambda f: f["type"] == "call_listen_sdp"))["sdp"])
    return phone


@pytest.mark.parametrize("agent_sees", [True, False])
async def test_a_supervisor_hears_both_sides_and_whispers_to_the_agent_only(
    agent_sees, voice_queue, ready_agent, recordings, media_process, scene
):
    await sync_to_async(QueueVoice.objects.filter(queue=voice_queue).update)(agent_sees_monitoring=agent_sees)
    supervisor = await sync_to_async(UserFactory)(username="sanna", first_name="Sanna", roles=["Supervisor"])
    watcher = await supervisor_socket(scene, supervisor)
    workspace = await scene.workspace(ready_agent)
    call, _caller_socket, caller = await scene.caller(voice_queue, frequency=CALLER_HZ)
    call_id = str(call.pk)
    agent = await scene.answer(workspace, call_id, frequency=AGENT_HZ)
    live = await until(watcher, lambda f: f["type"] == "call_state" and f["state"] == "talking")
    assert live["agent"]["name"].startswith("Aino")

    ear = await listen(scene, watcher, call_id)
    await ear.hears(25)
    heard = await ear.hears(75)
    assert tone_strength(heard, CALLER_HZ) > 30, "the supervisor does not hear the caller"
    assert tone_strength(heard, AGENT_HZ) > 30, "the supervisor does not hear the agent"
    if agent_sees:
        shown = await until(workspace, lambda f: f["type"] == "call_monitored")
        assert (shown["listening"], shown["whisper"]) == (True, False)
        assert shown["by"].startswith("Sanna")
    # The caller and the agent do not hear the supervisor, who is only listening.
    assert not hears(await agent.hears(75), SUPERVISOR_HZ, beside=CALLER_HZ)
    assert not hears(await caller.hears(75), SUPERVISOR_HZ, beside=AGENT_HZ)

    await send(watcher, {"type": "call_whisper", "call_id": call_id, "on": True})
    shown = await until(workspace, lambda f: f["type"] == "call_monitored" and f["whisper"])
    assert shown["listening"]
    await agent.hears(10)
    agent_heard = await agent.hears(75)
    assert hears(agent_heard, SUPERVISOR_HZ, beside=CALLER_HZ), "the agent does not hear the whisper"
    assert tone_strength(agent_heard, CALLER_HZ) > 30, "the whisper drowned the caller"
    assert not hears(await caller.hears(75), SUPERVISOR_HZ, beside=AGENT_HZ), "the caller heard the whisper"

    await send(watcher, {"type": "call_whisper", "call_id": call_id, "on": False})
    # The agent heard the whisper, so is told it stopped, even where listeners are unseen.
    stopped = await until(workspace, lambda f: f["type"] == "call_monitored" and not f["whisper"])
    assert stopped["listening"]
    await send(watcher, {"type": "call_unlisten", "call_id": call_id})
    assert (await until(watcher, lambda f: f["type"] == "call_listen_ended"))["reason"] == "stopped"
    if agent_sees:
        assert not (await until(workspace, lambda f: f["type"] == "call_monitored"))["listening"]
    await agent.hears(10)
    assert not hears(await agent.hears(75), SUPERVISOR_HZ, beside=CALLER_HZ)
    kinds = await sync_to_async(lambda: list(CallEvent.objects.filter(call=call).values_list("kind", flat=True)))()
    assert [k for k in kinds if k.startswith(("monitor", "whisper"))] == [
        "monitor_started",
        "whisper_started",
        "whisper_ended",
        "monitor_ended",
    ]


async def test_agents_cannot_listen_and_a_supervisor_listens_only_to_calls_an_agent_is_on(
    voice_queue, ready_agent, recordings, media_process, scene
):
    supervisor = await sync_to_async(UserFactory)(username="sanna", roles=["Supervisor"])
    watcher = await supervisor_socket(scene, supervisor)
    call, _socket, _caller = await scene.caller(voice_queue)
    await send(watcher, {"type": "call_listen", "call_id": str(call.pk), "sdp": "v=0\r\n"})
    assert (await until(watcher, lambda f: f["type"] == "error"))["code"] == "wrong_state"
    await send(watcher, {"type": "call_whisper", "call_id": str(call.pk), "on": True})
    assert (await until(watcher, lambda f: f["type"] == "error"))["code"] == "not_listening"

    # An agent's socket at /ws/supervisor/ is refused outright.
    key = await sync_to_async(lambda: Token.objects.get_or_create(user=ready_agent.user)[0].key)()
    refused = await connect("/ws/supervisor/")
    await send(refused, {"type": "auth", "token": key})
    assert (await refused.receive_output(timeout=5))["code"] == 4403
