"""realtime.watch: a process that stops hearing the channel layer (Redis gone, then back)
has every watched socket catch up once it hears again; slowness alone is not a gap."""

import asyncio

from channels.layers import get_channel_layer

from contactcenter import realtime


class Socket:
    def __init__(self):
        self.caught_up = 0

    async def catch_up(self):
        self.caught_up += 1


async def test_sockets_catch_up_after_the_channel_layer_comes_back(own_redis, monkeypatch):
    monkeypatch.setattr(realtime, "WATCH_INTERVAL_SECONDS", 0.2)
    socket = Socket()
    realtime.watch(socket)
    await asyncio.sleep(1.0)
    assert socket.caught_up == 0  # heard all along: nothing to catch up

    own_redis.crash()
    await asyncio.sleep(1.5)
    assert socket.caught_up == 0  # deaf: nothing to catch up from yet
    own_redis.start()
    async with asyncio.timeout(20):
        while socket.caught_up == 0:  # noqa: ASYNC110 - the watch's own timing
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    assert socket.caught_up == 1  # once per gap
    await get_channel_layer().flush()
