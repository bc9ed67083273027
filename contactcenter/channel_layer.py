"""The channel layer: channels_redis's pub/sub layer, made cheaper for realtime fan-out.

- A message published to a group is decoded once per process and the same dict handed to
  every local socket in the group, instead of once per socket. Handlers read what they
  receive and build new frames; they never change a received message in place.
- `group_send_many` publishes several messages in one pipeline, one round trip to Redis
  instead of one per message, in the order given (`contactcenter.realtime` sends the
  events a service or a relay batch handed over this way).
- After each message redis-py hands over, the receiver takes every further message its parser
  (hiredis) already holds complete, without going back through redis-py's `get_message`, whose
  retry, timeout and telemetry layers cost more than the rest of receiving a message
  (`bench/layer_receive.py`). That reads RESP2's plain arrays, so the layer's connections
  speak RESP2 unless a host says otherwise (redis-py 8 defaults to RESP3, whose pushes,
  maintenance notices among them, are left to redis-py).

Everything else (subscriptions, reconnection, the per-loop layers) is channels_redis 4.3's,
pinned in requirements.txt; `tests/contactcenter/test_channel_layer.py` fails if the parts
used here change.
"""

from __future__ import annotations

import asyncio
import logging

import hiredis
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close
from redis._parsers.hiredis import NOT_ENOUGH_DATA

logger = logging.getLogger(__name__)


class RealtimeChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer

    def deserialize(self, message):
        # Group messages arrive decoded already (`_Shard._receive_message`).
        return message if isinstance(message, dict) else super().deserialize(message)

    async def group_send_many(self, items: list[tuple[str, dict]]) -> None:
        """Send each (group, message) in order, in one round trip per Redis host."""
        await self._get_layer().group_send_many(items)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for shard in self._shards:
            shard.__class__ = _Shard
            shard.host = {"protocol": 2, **shard.host}

    async def group_send_many(self, items: list[tuple[str, dict]]) -> None:
        by_shard: dict[_Shard, list[tuple[str, bytes]]] = {}
        for group, message in items:
            channel = self._get_group_channel_name(group)
            by_shard.setdefault(self._get_shard(channel), []).append((channel, self.channel_layer.serialize(message)))
        for shard, publishes in by_shard.items():
            await shard.publish_many(publishes)


class _Shard(RedisSingleShardConnection):
    pipelines_sent = 0  # for tests: publishes that shared a round trip
    taken_buffered = 0  # for tests: messages taken from the parser's buffer

    async def _do_receiving(self):
        # channels_redis's loop, and then what is buffered already.
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                    await self._receive_buffered()
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, TimeoutError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)

    async def _receive_buffered(self) -> None:
        """The replies the connection's hiredis reader holds complete, without waiting for
        more. Anything but a published message (a subscription's confirmation) goes through
        redis-py, which keeps its subscription state by them."""
        connection = self._pubsub.connection
        reader = getattr(getattr(connection, "_parser", None), "_reader", None)
        if not isinstance(reader, hiredis.Reader) or connection.protocol != 2:
            return
        while (reply := reader.gets()) is not NOT_ENOUGH_DATA:
            if isinstance(reply, Exception):
                raise reply
            if type(reply) is list and len(reply) == 3 and reply[0] == b"message":
                self.taken_buffered += 1
                self._receive_message({"channel": reply[1], "data": reply[2]})
            else:
                self._receive_message(await self._pubsub.handle_message(reply, ignore_subscribe_messages=True))

    async def publish_many(self, publishes: list[tuple[str, bytes]]) -> None:
        self.pipelines_sent += 1
        async with self._lock:
            self._ensure_redis()
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel, data in publishes:
                    pipe.publish(channel, data)
                await pipe.execute()

    def _receive_message(self, message):
        if message is None:
            return
        name, data = message["channel"], message["data"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        if name in layer.channels:
            layer.channels[name].put_nowait(data)  # one reader: decoded by `receive`
        elif name in layer.groups:
            decoded = layer.channel_layer.deserialize(data)
            for channel_name in layer.groups[name]:
                queue = layer.channels.get(channel_name)
                if queue is not None:
                    queue.put_nowait(decoded)
