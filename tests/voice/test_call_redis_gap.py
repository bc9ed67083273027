"""A caller's socket across a Redis gap: the state published while the process could not hear
the channel layer reaches the caller once it hears again (realtime.watch)."""

import asyncio

import pytest

from contactcenter import realtime


@pytest.mark.django_db(transaction=True)
async def test_a_callers_socket_gets_the_state_it_missed_while_redis_was_away(own_redis, voice_queue, monkeypatch):
    from channels.db import database_sync_to_async as sync_to_async

    from tests.voice.wire import connect, send, until
    from voice import services

    monkeypatch.setattr(realtime, "WATCH_INTERVAL_SECONDS", 0.2)
    call, token = await sync_to_async(services.call_start)(queue=voice_queue, locale="en")
    socket = await connect("/ws/call/")
    try:
        await send(socket, {"type": "auth", "token": token})
        assert (await until(socket, lambda f: f["type"] == "state"))["state"] == "connecting"
        await asyncio.sleep(0.6)  # the watch has heard the layer at least once
        own_redis.crash()
        await asyncio.sleep(0.6)
        # The caller hangs up from another device meanwhile: published into the void.
        await sync_to_async(services.call_end)(call_id=call.pk, reason="caller_hung_up")
        own_redis.start()
        ended = await until(socket, lambda f: f["type"] == "state" and f["state"] == "ended", within=20)
        assert ended["end_reason"] == "caller_hung_up"
    finally:
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_media_process_catches_up_on_commands_lost_while_redis_was_away(
    own_redis, voice_queue, ready_agent, recordings, media_process, monkeypatch
):
    """The agent holds the call while Redis is down: the command to the media process is lost,
    and once Redis is back the media process takes the state from PostgreSQL."""
    from channels.db import database_sync_to_async as sync_to_async

    from tests.voice.wire import Scene, loudness, peak
    from voice import services

    monkeypatch.setattr(realtime, "WATCH_INTERVAL_SECONDS", 0.2)
    await sync_to_async(services.QueueVoice.objects.filter(queue=voice_queue).update)(record_calls=False)
    scene = Scene()
    try:
        workspace = await scene.workspace(ready_agent)
        call, _socket, caller = await scene.caller(voice_queue)
        await scene.answer(workspace, str(call.pk))
        await caller.hears(25)
        assert abs(peak(await caller.hears(50)) - 1300) < 15
        own_redis.crash()
        await asyncio.sleep(0.6)
        await sync_to_async(services.call_hold)(call_id=call.pk, agent=ready_agent, on=True)
        await asyncio.sleep(0.6)
        assert abs(peak(await caller.hears(25)) - 1300) < 15  # the hold never reached the media
        own_redis.start()
        async with asyncio.timeout(20):
            while True:
                heard = await caller.hears(25)
                if abs(peak(heard) - 1300) > 50 and loudness(heard) > 300:
                    break  # hold music, not the agent
    finally:
        await scene.close()
