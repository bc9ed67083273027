#!/usr/bin/env python
"""What Channels' consumer loop costs per delivered frame, against a plain queue loop.

A Channels consumer waits on its client and its channel with `await_many_dispatch`: an
`asyncio.wait` and a new task for every message. A socket layer of our own would wait on one
queue. This measures both on uvloop, with the handler doing nothing, so that the difference is
the loop alone (docs/performance.md, "Next"):

    .venv/bin/python bench/dispatch_loop.py --messages 200000
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop
from channels.utils import await_many_dispatch


async def channels_loop(messages: int) -> float:
    client, channel = asyncio.Queue(), asyncio.Queue()
    return await _deliver(messages, channel, lambda dispatch: await_many_dispatch([client.get, channel.get], dispatch))


async def queue_loop(messages: int) -> float:
    inbox = asyncio.Queue()

    async def run(dispatch):
        while True:
            await dispatch(await inbox.get())

    return await _deliver(messages, inbox, run)


async def _deliver(messages: int, queue: asyncio.Queue, loop_of) -> float:
    """CPU µs per message: each is put on `queue` and the producer yields, as the channel
    layer's reader does between Redis messages."""
    handled = 0
    done = asyncio.get_running_loop().create_future()

    async def dispatch(_message) -> None:
        nonlocal handled
        handled += 1
        if handled == messages:
            done.set_result(None)

    consumer = asyncio.create_task(loop_of(dispatch))
    await asyncio.sleep(0)
    started = time.process_time()
    for number in range(messages):
        queue.put_nowait(number)
        await asyncio.sleep(0)
    await done
    spent = time.process_time() - started
    consumer.cancel()
    # The producer's own yield, to take out of both figures.
    started = time.process_time()
    for _ in range(messages):
        await asyncio.sleep(0)
    yielding = time.process_time() - started
    return (spent - yielding) * 1e6 / messages


async def main(messages: int) -> None:
    for name, measure in (("channels await_many_dispatch", channels_loop), ("one queue", queue_loop)):
        print(f"{name:30s} {await measure(messages):6.1f} µs of CPU per delivered message")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    uvloop.run(main(parser.parse_args().messages))
