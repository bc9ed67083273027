"""contactcenter.channel_layer over a real Redis: a group message decoded once for all of a
process's sockets in the group, several messages published in one round trip and in order,
and stored frames kept for later when Redis is away."""

import asyncio

from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisSingleShardConnection
from redis import Redis

from contactcenter import realtime
from contactcenter.channel_layer import RealtimeChannelLayer


async def receive(layer, channel):
    async with asyncio.timeout(5):
        return await layer.receive(channel)


async def test_a_group_message_is_decoded_once_for_every_local_socket(own_redis):
    layer = get_channel_layer()
    assert isinstance(layer, RealtimeChannelLayer)
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("conv.one", channel)
    await layer.group_send("conv.one", {"type": "realtime.event", "event": {"type": "message", "seq": 1}})
    got_first, got_second = await receive(layer, first), await receive(layer, second)
    assert got_first == {"type": "realtime.event", "event": {"type": "message", "seq": 1}}
    assert got_first is got_second  # one decoding, shared

    # A message to one socket's own channel still arrives, as channels_redis sends it.
    await layer.send(first, {"type": "watch.ping"})
    assert await receive(layer, first) == {"type": "watch.ping"}
    await layer.flush()


async def test_the_layer_speaks_resp2_to_redis(own_redis):
    # The receiver's fast path reads RESP2 (contactcenter/channel_layer.py).
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("conv.one", channel)  # the subscriber's connection
    await layer.group_send("conv.one", {"type": "realtime.event", "event": {"seq": 1}})  # the publisher's
    await receive(layer, channel)

    redis = Redis.from_url(own_redis.url)
    layer_clients = [client for client in redis.client_list() if client["cmd"] != "client|list"]
    assert len(layer_clients) == 2
    assert {client["resp"] for client in layer_clients} == {"2"}
    await layer.flush()


async def test_many_messages_go_out_in_one_round_trip_and_in_order(own_redis):
    layer = get_channel_layer()
    socket = await layer.new_channel()
    await layer.group_add("conv.a", socket)
    await layer.group_add("conv.b", socket)
    redis = Redis.from_url(own_redis.url)
    published_before = _publish_calls(redis)

    items = [(f"conv.{'ab'[n % 2]}", {"type": "realtime.event", "event": {"seq": n}}) for n in range(50)]
    await layer.group_send_many(items)

    assert [(await receive(layer, socket))["event"]["seq"] for _ in range(50)] == list(range(50))
    assert _publish_calls(redis) - published_before == 50
    assert _pipelines_of(layer) == 1  # the 50 publishes went in one pipeline
    assert _shard(layer).taken_buffered > 0  # and most were taken from the parser's buffer at once
    await layer.flush()


async def test_the_receiver_keeps_redis_py_s_subscription_state_when_confirmations_come_together(own_redis):
    layer = get_channel_layer()
    socket = await layer.new_channel()
    groups = [f"conv.{n}" for n in range(20)]
    for group in groups:
        await layer.group_add(group, socket)
    await layer.group_send_many([(group, {"type": "realtime.event", "event": {"group": group}}) for group in groups])
    assert {(await receive(layer, socket))["event"]["group"] for _ in groups} == set(groups)

    # One UNSUBSCRIBE of ten channels: Redis answers with ten confirmations at once. redis-py
    # hands over the first, the receiver takes the rest from the buffer, and redis-py must
    # still see every one of them to keep its subscription state.
    pubsub = _shard(layer)._pubsub
    left = [f"own-redis__group__{group}" for group in groups[1::2]]
    await pubsub.unsubscribe(*left)
    async with asyncio.timeout(5):
        while pubsub.pending_unsubscribe_channels:  # noqa: ASYNC110 - redis-py's own state
            await asyncio.sleep(0.01)
    subscribed_groups = {name for name in pubsub.channels if b"__group__" in name}
    assert subscribed_groups == {f"own-redis__group__{group}".encode() for group in groups[::2]}

    # Still heard: a group kept; no longer heard: one left.
    await layer.group_send_many(
        [(group, {"type": "realtime.event", "event": {"group": group}}) for group in (groups[1], groups[2])]
    )
    assert (await receive(layer, socket))["event"] == {"group": groups[2]}
    await layer.flush()


async def test_stored_frames_wait_for_redis_and_other_events_are_dropped(own_redis, monkeypatch):
    monkeypatch.setattr(realtime, "BACKLOG_RETRY_SECONDS", 0.2)
    layer = get_channel_layer()
    await layer.group_send("conv.x", {"type": "realtime.event", "event": {"seq": 0}})  # connected

    own_redis.crash()
    items = [("conv.x", {"type": "typing", "active": True}), ("conv.x", {"type": "message", "seq": 1})]
    try:
        await realtime.send_stored_many(items)
    except Exception:  # noqa: S110 - the caller logs it; what matters is what is kept
        pass
    else:
        raise AssertionError("a publish to a Redis that is gone succeeded")
    backlog = realtime._backlog()
    assert list(backlog.items) == [("conv.x", {"type": "message", "seq": 1})]  # typing, late, would be wrong

    own_redis.start()
    async with asyncio.timeout(20):
        while backlog.items:  # noqa: ASYNC110 - the backlog's own retry timing
            await asyncio.sleep(0.1)
    await layer.flush()


async def test_a_host_that_asks_for_resp3_is_served_by_redis_py_alone(own_redis):
    layer = RealtimeChannelLayer(hosts=[{"address": own_redis.url, "protocol": 3}], prefix="resp3")
    socket = await layer.new_channel()
    await layer.group_add("conv.a", socket)
    await layer.group_send_many([("conv.a", {"type": "realtime.event", "event": {"seq": n}}) for n in range(20)])
    assert [(await receive(layer, socket))["event"]["seq"] for _ in range(20)] == list(range(20))
    assert _shard(layer).taken_buffered == 0  # RESP3's pushes go through redis-py
    await layer.flush()


def _publish_calls(redis) -> int:
    return int(redis.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))


def _shard(layer):
    shard = layer._get_layer()._shards[0]
    assert isinstance(shard, RedisSingleShardConnection)
    return shard


def _pipelines_of(layer) -> int:
    return _shard(layer).pipelines_sent
