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
