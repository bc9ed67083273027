#!/usr/bin/env python
"""Load benchmark of the live-chat relay, speaking only PROTOCOL.md.

N conversations, each with a customer socket and an agent (several conversations per agent
socket, up to the chat cap), exchange messages at a set total rate. Every message carries its
send time; the receiver records the delivery latency. Prints messages/s, p50/p99 latency,
and how many messages were lost or delivered twice.

    # the server, with the per-address start throttle lifted for one client machine:
    CC_THROTTLE_CUSTOMER=1000000/hour make run
    # then:
    .venv/bin/python bench/chat_load.py --conversations 100 --rate 200 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import websockets

BASE_DIR = Path(__file__).resolve().parent.parent


def bench_setup(agents: int, capacity: int) -> dict:
    output = subprocess.run(  # noqa: S603 - our own manage command
        [sys.executable, "-m", "contactcenter.run", "--manage", "bench_setup", "--agents", str(agents),
         "--capacity", str(capacity)],
        cwd=BASE_DIR, env={**os.environ, "CC_DEMO_MODE": "true"}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(next(line for line in output.splitlines() if line.startswith("{")))


class Stats:
    def __init__(self):
        self.sent: set[str] = set()
        self.received: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.window_start: float | None = None
        self.window_end: float | None = None

    def delivered(self, message_id: str, sent_at_ns: int) -> None:
        if message_id not in self.sent:
            return
        self.received[message_id] += 1
        if self.received[message_id] == 1:
            self.latencies.append((time.perf_counter_ns() - sent_at_ns) / 1e6)


def tag(message_id: str) -> str:
    return f"{message_id}|{time.perf_counter_ns()}"


def untag(text: str) -> tuple[str, int] | None:
    try:
        message_id, stamp = text.split("|")
        return message_id, int(stamp)
    except ValueError:
        return None


async def agent_session(ws_url: str, token: str, stats: Stats, conversations: dict, ready: asyncio.Event, stop):
    async with websockets.connect(ws_url + "/ws/agent/", max_queue=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.send(json.dumps({"type": "presence", "state": "ready"}))
        outbox: asyncio.Queue = asyncio.Queue()
        ready.set()

        async def reader():
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "offer":
                    await ws.send(json.dumps({"type": "accept", "conversation_id": frame["conversation_id"]}))
                elif kind == "assigned":
                    conversations.setdefault(frame["conversation_id"], {})["agent"] = outbox
                elif (
                    kind == "message"
                    and frame.get("author", {}).get("role") == "customer"
                    and frame.get("conversation_id") in conversations
                ):
                    parsed = untag(frame["text"])
                    if parsed:
                        stats.delivered(*parsed)

        async def writer():
            while True:
                conversation_id, text = await outbox.get()
                await ws.send(
                    json.dumps(
                        {
                            "type": "message",
                            "conversation_id": conversation_id,
                            "client_id": str(uuid.uuid4()),
                            "text": text,
                        }
                    )
                )

        tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
        await stop.wait()
        for task in tasks:
            task.cancel()


async def customer_session(
    http: httpx.AsyncClient, ws_url: str, widget: str, stats: Stats, conversations: dict, stop, starting
):
    async with starting:  # a bounded number of REST starts in flight
        response = await http.post(f"/api/v1/widget/{widget}/conversations", json={"prechat": {}})
    if response.status_code == 429:
        raise SystemExit("the server throttles conversation starts: run it with CC_THROTTLE_CUSTOMER=1000000/hour")
    response.raise_for_status()
    started = response.json()
    cid = started["conversation_id"]
    async with websockets.connect(ws_url + started["ws_url"], max_queue=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": started["customer_token"], "after_seq": 0}))
        outbox: asyncio.Queue = asyncio.Queue()
        conversations.setdefault(cid, {})["customer"] = outbox

        async def reader():
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("author", {}).get("role") == "agent":
                    parsed = untag(frame["text"])
                    if parsed:
                        stats.delivered(*parsed)

        async def writer():
            while True:
                text = await outbox.get()
                await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": text}))

        tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
        await stop.wait()
        await ws.send(json.dumps({"type": "end"}))
        for task in tasks:
            task.cancel()


async def run(args) -> None:
    capacity = 8
    agents_needed = max(1, math.ceil(args.conversations / capacity))
    setup = bench_setup(agents_needed, capacity)
    ws_url = args.url.replace("http", "ws", 1)
    stats, conversations = Stats(), {}
    stop_agents, stop_customers = asyncio.Event(), asyncio.Event()
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=args.url, timeout=60, limits=limits) as http:
        readies = [asyncio.Event() for _ in setup["tokens"]]
        agent_tasks = [
            asyncio.create_task(agent_session(ws_url, token, stats, conversations, ready, stop_agents))
            for token, ready in zip(setup["tokens"], readies, strict=True)
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        starting = asyncio.Semaphore(50)
        customer_tasks = [
            asyncio.create_task(
                customer_session(http, ws_url, setup["widget"], stats, conversations, stop_customers, starting)
            )
            for _ in range(args.conversations)
        ]
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            paired = sum(1 for c in conversations.values() if "agent" in c and "customer" in c)
            if paired >= args.conversations:
                break
            await asyncio.sleep(0.2)
        paired_ids = [cid for cid, c in conversations.items() if "agent" in c and "customer" in c]
        setup_seconds = time.perf_counter() - started
        print(f"{len(paired_ids)}/{args.conversations} conversations paired with agents in {setup_seconds:.1f} s")

        # Send at the set total rate, alternating customer and agent turns per conversation.
        interval = 1 / args.rate
        run_id = uuid.uuid4().hex[:8]  # texts of earlier runs never count as this run's
        stats.window_start = time.perf_counter()
        end = stats.window_start + args.duration
        n = 0
        next_at = stats.window_start
        while time.perf_counter() < end and paired_ids:
            cid = paired_ids[n % len(paired_ids)]
            side = "customer" if (n // len(paired_ids)) % 2 == 0 else "agent"
            message_id = f"{run_id}-{n}"
            stats.sent.add(message_id)
            text = tag(message_id)
            if side == "customer":
                conversations[cid]["customer"].put_nowait(text)
            else:
                conversations[cid]["agent"].put_nowait((cid, text))
            n += 1
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        stats.window_end = time.perf_counter()
        await asyncio.sleep(args.drain)
        stop_customers.set()
        await asyncio.gather(*customer_tasks, return_exceptions=True)
        stop_agents.set()
        await asyncio.gather(*agent_tasks, return_exceptions=True)

    received = sum(1 for m in stats.sent if stats.received[m] >= 1)
    lost = len(stats.sent) - received
    duplicated = sum(1 for m in stats.sent if stats.received[m] > 1)
    window = stats.window_end - stats.window_start
    latencies = sorted(stats.latencies)

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    print(f"conversations      {len(paired_ids)}")
    print(f"messages sent      {len(stats.sent)} in {window:.1f} s (target {args.rate}/s)")
    print(f"messages delivered {received} ({received / window:.0f}/s)")
    worst = latencies[-1] if latencies else float("nan")
    print(f"latency ms         p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {worst:.1f}")
    if latencies:
        print(f"latency mean ms    {statistics.fmean(latencies):.1f}")
    print(f"lost               {lost}")
    print(f"duplicated         {duplicated}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second, all conversations together")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
