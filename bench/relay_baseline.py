#!/usr/bin/env python
"""Two baseline relays to compare our chat relay against, each with a step search.

bare       a plain `websockets` + uvloop server in one process: clients connect in pairs on
           /pair/<id>/<side>, each text from one side goes to the other side, nothing is
           stored. About the limit of relaying WebSocket frames in Python on one core.
reference  a stock Django Channels AsyncWebsocketConsumer (bench/reference_relay/) under
           uvicorn, on the Redis pub/sub channel layer (REDIS_URL, default
           redis://127.0.0.1:6379/15): each socket joins group pair.<id> and group_sends what
           it receives; the other side forwards it.

Each runs as a server subprocess on 127.0.0.1. K load-generator processes (those of
bench/chat_load.py) open N pairs; each side sends one message per interval at a random
phase and the receiver records the one-way latency. N rises over --steps until p99 reaches
100 ms or a message is lost; the result is the highest achieved msg/s below that.

    .venv/bin/python bench/relay_baseline.py --relay bare --steps 100,200,400 --duration 20
    .venv/bin/python bench/relay_baseline.py --relay both --json   # one JSON line per relay
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import uvloop
import websockets
import websockets.sync.client
from chat_load import (
    P99_LIMIT_MS,
    Control,
    ServerProbe,
    Tally,
    Workers,
    cancel_all,
    die_with_parent,
    handle_stop_signals,
    idle_kib_per_socket,
    measure,
    print_summary,
    raise_fd_limit,
    send_window,
    step_search,
)

BENCH_DIR = Path(__file__).resolve().parent
PORTS = {"bare": 8201, "reference": 8202}
DEFAULT_STEPS = "100,200,400,700,1000,1500,2000,3000,4000,5000,7000"


# --- the servers ------------------------------------------------------------------------


async def serve_bare(port: int) -> None:
    peers: dict[str, dict[str, websockets.ServerConnection]] = {}

    async def relay(ws: websockets.ServerConnection) -> None:
        _, _, pair, side = ws.request.path.split("/")
        other = "b" if side == "a" else "a"
        sides = peers.setdefault(pair, {})
        sides[side] = ws
        try:
            async for message in ws:
                if peer := sides.get(other):
                    await peer.send(message)
        finally:
            del sides[side]
            if not sides:
                del peers[pair]

    # The default permessage-deflate stays on, as it does in uvicorn: all relays do the same work.
    async with websockets.serve(relay, "127.0.0.1", port, backlog=4096):
        await asyncio.get_running_loop().create_future()


def start_server(relay: str, port: int, workers: int) -> subprocess.Popen:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is in use; choose another with --{relay}-port")
    env = dict(os.environ)
    if relay == "bare":
        command = [sys.executable, __file__, "--serve-bare", "--port", str(port)]
    else:
        command = [
            sys.executable, "-m", "uvicorn", "reference_relay.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
            "--ws", "websockets", "--lifespan", "off", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        # The same WebSocket implementation as our runner's uvicorn, without its deprecation notice.
        env.update(
            PYTHONPATH=str(BENCH_DIR),
            DJANGO_SETTINGS_MODULE="reference_relay.settings",
            PYTHONWARNINGS="ignore:The `websockets` implementation is deprecated",
        )
    # Its own session: a Ctrl-C reaches us, and we stop the server in order.
    server = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=die_with_parent)  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the {relay} relay exited at start with code {server.returncode}")
        try:
            # A whole handshake: a bare TCP probe would make the server log a failed one.
            with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/pair/probe/a", open_timeout=2):
                return server
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            time.sleep(0.1)
    stop_server(server)
    raise SystemExit(f"the {relay} relay did not answer on port {port} within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the load ---------------------------------------------------------------------------


async def pair_worker(control: Control, index: int, count: int, url: str, pairs: int, run: str) -> None:
    """One load-generator process: both sides of every count-th pair, from pair `index`."""
    tally = Tally(run, index)
    connecting = asyncio.Semaphore(100)

    async def connect(pair: int, side: str) -> websockets.ClientConnection:
        async with connecting:
            return await websockets.connect(f"{url}/pair/{run}-{pair}/{side}", max_queue=None)

    opened = await asyncio.gather(
        *(connect(pair, side) for pair in range(index, pairs, count) for side in "ab"), return_exceptions=True
    )
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    failures = [f"{type(error).__name__}: {error}" for error in opened if isinstance(error, BaseException)]
    control.reply("connected", (len(sockets), failures[:1]))

    async def read(ws: websockets.ClientConnection) -> None:
        async for text in ws:
            tally.record(text)

    async def write(ws: websockets.ClientConnection, outbox: asyncio.Queue) -> None:
        while True:
            await ws.send(await outbox.get())

    outboxes = [asyncio.Queue() for _ in sockets]
    tasks = [asyncio.create_task(read(ws)) for ws in sockets]
    tasks += [asyncio.create_task(write(ws, outbox)) for ws, outbox in zip(sockets, outboxes, strict=True)]

    _, go = await control.receive("go")

    def send(outbox: asyncio.Queue) -> None:
        outbox.put_nowait(tally.tag())

    senders = [(random.uniform(0, go["interval"]), functools.partial(send, outbox)) for outbox in outboxes]
    await send_window(control, tally, senders, go)

    await control.receive("stop")
    await cancel_all(tasks)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def measure_pairs(args, relay: str, url: str, probe: ServerProbe, pairs: int) -> dict:
    _, rss_before = probe.sample()
    with Workers(args.processes, pair_worker, url, pairs, uuid.uuid4().hex[:8]) as workers:
        replies = workers.gather("connected", timeout=60 + pairs / 20)
        sockets = sum(opened for opened, _ in replies)
        failures = [failure for _, failed in replies for failure in failed]
        processes = f" ({args.workers} workers)" if relay == "reference" and args.workers > 1 else ""
        label = f"{relay} relay{processes}, {pairs} pairs"
        if failures:
            return {"label": label, "pairs": pairs, "error": f"{2 * pairs - sockets} sockets failed: {failures[0]}"}
        time.sleep(1)  # let the last sockets settle before the idle memory is read
        _, rss_after = probe.sample()
        go = {"interval": args.interval_seconds, "offered_per_s": 2 * pairs / args.interval_seconds}
        summary = measure(workers, probe, go, args)
    return {
        "label": label,
        "pairs": pairs,
        "sockets": sockets,
        "idle_kib_per_socket": idle_kib_per_socket(rss_before, rss_after, sockets),
        **summary,
    }


def search(args, relay: str) -> dict:
    port = getattr(args, f"{relay}_port")
    workers = 1 if relay == "bare" else args.workers
    server = start_server(relay, port, workers)
    try:
        probe = ServerProbe(server.pid)
        found = step_search(args.steps, functools.partial(measure_pairs, args, relay, f"ws://127.0.0.1:{port}", probe))
    finally:
        stop_server(server)
    return {"relay": relay, "server_processes": workers, **found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relay", choices=["bare", "reference", "both"], default="both")
    parser.add_argument("--steps", default=DEFAULT_STEPS, help="pair counts to try, in order")
    parser.add_argument("--interval-seconds", type=float, default=1.0, help="each side sends once per interval")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending per step")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the reference relay")
    parser.add_argument("--bare-port", type=int, default=PORTS["bare"])
    parser.add_argument("--reference-port", type=int, default=PORTS["reference"])
    parser.add_argument("--json", action="store_true", help="print one JSON line per relay")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        uvloop.run(serve_bare(args.port))
        return
    args.steps = [int(step) for step in args.steps.split(",")]
    handle_stop_signals()
    raise_fd_limit()
    for relay in ("bare", "reference") if args.relay == "both" else (args.relay,):
        try:
            found = search(args, relay)
        except KeyboardInterrupt:
            sys.exit(130)  # the server and load generators are stopped by now; no traceback
        if args.json:
            print(json.dumps(found), flush=True)
        elif found["best"]:
            print_summary(found["best"])
        else:
            print(f"{relay} relay: no step carried its load with p99 < {P99_LIMIT_MS:.0f} ms and nothing lost")


if __name__ == "__main__":
    main()
