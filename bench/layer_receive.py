#!/usr/bin/env python
"""What the channel layer costs a worker per group message it receives: CPU per message of
`contactcenter.channel_layer` receiving relay frames published to a group by another process,
one publish at a time and in pipelines of 5 and 20 (a relay batch's frames go in one), for
each Redis protocol the layer can speak, with redis-py's own parser and, where the `hiredis`
package is installed, with its C parser. Prints µs of this process's CPU per message received;
the publisher runs in a process of its own, so run it on a quiet machine.

Uses the Redis `make run` uses (REDIS_URL, or the embedded one).

    .venv/bin/python bench/layer_receive.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from django_services import SERVICES  # first: Django set up on the services make run uses

# isort: split
from django.conf import settings
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser, _AsyncRESP3Parser
from redis.utils import HIREDIS_AVAILABLE

from contactcenter.channel_layer import RealtimeChannelLayer

PREFIX = "layer-receive-bench"
GROUP = "conv.bench"
BURSTS = (1, 5, 20)
# A customer's message as the relay publishes it (chat.frames.message_frame).
EVENT = {
    "type": "realtime.event",
    "event": {
        "type": "message",
        "id": 1234567,
        "conversation_id": "5b0e6a53-4a4c-4b3a-9f0e-2f7d1c3f6a10",
        "seq": 17,
        "client_id": "0f8f6c9e-7d4b-4b8e-9a43-6c3d2b1a0e99",
        "author": {"role": "customer", "name": ""},
        "text": "Hello, my heating has not worked since Monday. Who can I talk to about it?",
        "sent_at": "2026-12-07T22:00:00.123456+00:00",
    },
}


def publish(count: int, burst: int) -> None:
    """The publisher process: `count` messages in pipelines of `burst`, about 1,500 a second."""
    import redis

    layer = RealtimeChannelLayer(hosts=[settings.REDIS_URL], prefix=PREFIX)
    data, channel = layer.serialize(EVENT), f"{PREFIX}__group__{GROUP}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    for _ in range(0, count, burst):
        pipe = client.pipeline(transaction=False)
        for _ in range(burst):
            pipe.publish(channel, data)
        pipe.execute()
        time.sleep(burst / 1500)


CONNECTIONS = {
    "RESP3, redis-py's parser": {"protocol": 3, "parser_class": _AsyncRESP3Parser},
    "RESP2, redis-py's parser": {"protocol": 2, "parser_class": _AsyncRESP2Parser},
}
if HIREDIS_AVAILABLE:
    CONNECTIONS["RESP3, hiredis"] = {"protocol": 3, "parser_class": _AsyncHiredisParser}
    CONNECTIONS["RESP2, hiredis"] = {"protocol": 2, "parser_class": _AsyncHiredisParser}


async def receive(count: int, burst: int, connection: dict) -> float:
    layer = RealtimeChannelLayer(hosts=[{"address": settings.REDIS_URL, **connection}], prefix=PREFIX)
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    await asyncio.sleep(0.3)  # subscribed before the publisher starts
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--publish", str(count), "--burst", str(burst)
    )
    try:
        async with asyncio.timeout(120):
            await layer.receive(channel)
            started = time.process_time()
            for _ in range(count - 1):
                await layer.receive(channel)
            cpu = time.process_time() - started
    finally:
        await publisher.wait()
        await layer.flush()
    return cpu / (count - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="messages per measurement")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per protocol and pipeline size")
    parser.add_argument("--publish", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--burst", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.publish:
            publish(args.publish, args.burst)
            return
        print("µs of the receiving process's CPU per group message received")
        for burst in BURSTS:
            for name, connection in CONNECTIONS.items():
                figures = [asyncio.run(receive(args.messages, burst, connection)) for _ in range(args.repeat)]
                shown = " / ".join(f"{1e6 * figure:.1f}" for figure in figures)
                print(f"published {burst:>2} at a time, {name:<25} {shown}")
    finally:
        SERVICES.stop()


if __name__ == "__main__":
    main()
