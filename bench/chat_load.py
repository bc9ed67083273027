#!/usr/bin/env python
"""Load benchmark of the live-chat relay, speaking only PROTOCOL.md.

N conversations, each with a customer socket and an agent (several conversations per agent
socket, up to the chat cap of 8), exchange tagged messages; every message carries its send
time and the receiver records the delivery latency. K load-generator processes each own a
share of the conversations and of the agent sockets. The load is either a total `--rate`
(customer and agent turns alternate over the conversations) or `--interval-seconds`: every
customer and every agent sends once per interval, each at a random phase.

Prints messages/s, p50/p99 latency, how many messages were lost or delivered twice, the CPU
and RSS of the ASGI server processes, the memory per idle socket and how busy the load
generator itself was; `--json` prints one JSON line instead.

    # the server, with the per-address start throttle lifted for one client machine:
    CC_THROTTLE_CUSTOMER=1000000/hour make run
    # then:
    .venv/bin/python bench/chat_load.py --conversations 100 --rate 200 --duration 30
    .venv/bin/python bench/chat_load.py --conversations 1000 --interval-seconds 1 --processes 2 --json

bench/relay_baseline.py reuses the process, pacing and measuring parts of this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import json
import math
import multiprocessing
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import uvloop
import websockets

BASE_DIR = Path(__file__).resolve().parent.parent
CAPACITY = 8  # chats per agent socket
IDS_PER_PROCESS = 10**9  # message ids are unique across the load-generator processes
P99_LIMIT_MS = 100.0  # a step search stops at the first load with p99 at or above this
TAIL_MS = 25.0  # P1's goal at half load: seconds whose p99 is above it are counted
LOADGEN_BUSY = 0.9  # a load-generator process busier than this may be what limits the rate


# --- processes --------------------------------------------------------------------------


def die_with_parent() -> None:
    """SIGTERM this process when its parent dies, so a killed benchmark leaves nothing behind."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def raise_fd_limit() -> None:
    # Thousands of sockets per process; children (servers included) inherit the raised limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def handle_stop_signals() -> None:
    """SIGTERM raises SystemExit and SIGINT KeyboardInterrupt, so that `finally` blocks stop what
    we started; SIGINT also when we were started ignoring it (as a shell's background job)."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


class Control:
    """A load-generator process's end of its pipe to the parent."""

    def __init__(self, conn):
        self.conn = conn

    async def receive(self, *kinds: str):
        # A blocking pipe read in a thread keeps the event loop serving the sockets meanwhile.
        kind, payload = await asyncio.to_thread(self.conn.recv)
        if kinds and kind not in kinds:
            raise RuntimeError(f"expected {' or '.join(kinds)} from the parent, got {kind}")
        return kind, payload

    def reply(self, kind: str, payload=None) -> None:
        self.conn.send((kind, payload))


def _worker_entry(target, conn, index: int, count: int, args) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    die_with_parent()
    try:
        uvloop.run(target(Control(conn), index, count, *args))
    except Exception as error:  # the parent reports it and stops the run
        conn.send(("error", f"{type(error).__name__}: {error}"))


class Workers:
    """K load-generator processes running `target(control, index, count, *args)`, driven in
    lock step: the parent sends a command to all, then gathers one reply from each."""

    def __init__(self, count: int, target, *args):
        context = multiprocessing.get_context("fork")
        self.conns, self.processes = [], []
        for index in range(count):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_worker_entry, args=(target, child_end, index, count, args), daemon=True)
            process.start()
            child_end.close()
            self.conns.append(parent_end)
            self.processes.append(process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, kind: str, payload=None) -> None:
        for conn in self.conns:
            conn.send((kind, payload))

    def gather(self, kind: str, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        replies = []
        for index, (conn, process) in enumerate(zip(self.conns, self.processes, strict=True)):
            while not conn.poll(0.2):
                if not process.is_alive():
                    raise SystemExit(f"load generator {index} exited (code {process.exitcode})")
                if time.monotonic() > deadline:
                    raise SystemExit(f"load generator {index} gave no {kind!r} within {timeout:.0f} s")
            got, payload = conn.recv()
            if got == "error":
                raise SystemExit(f"load generator {index}: {payload}")
            if got != kind:
                raise SystemExit(f"load generator {index} answered {got!r}, expected {kind!r}")
            replies.append(payload)
        return replies

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("stop", None))
            except OSError:
                pass
        for process in self.processes:
            process.join(15)
            if process.is_alive():
                process.terminate()
                process.join(5)


# --- pacing and counting ----------------------------------------------------------------


class Tally:
    """One process's sent message ids and its deliveries (count, first latency).

    A message text is `run:id:send time`, the time from CLOCK_MONOTONIC (`time.monotonic_ns`),
    which on Linux is one clock for every process, so the sender and receiver may differ.
    """

    def __init__(self, run: str, index: int):
        self.run = run
        self.counting = False
        self.next_id = index * IDS_PER_PROCESS
        self.sent: list[int] = []
        self.received: dict[int, list] = {}
        self.errors: Counter[str] = Counter()  # error frames by code: why a message may be lost

    def tag(self) -> str:
        if not self.counting:
            return f"warm-up:0:{time.monotonic_ns()}"  # relayed like the others, never counted
        message_id = self.next_id
        self.next_id += 1
        self.sent.append(message_id)
        return f"{self.run}:{message_id}:{time.monotonic_ns()}"

    def record(self, text: str) -> None:
        parts = text.split(":")
        if len(parts) != 3 or parts[0] != self.run:
            return  # not a text of this run
        message_id, sent_ns = int(parts[1]), int(parts[2])
        seen = self.received.get(message_id)
        if seen is None:
            self.received[message_id] = [1, (time.monotonic_ns() - sent_ns) / 1e6, sent_ns]
        else:
            seen[0] += 1


async def sleep_until(deadline_ns: int) -> None:
    delay = deadline_ns - time.monotonic_ns()
    if delay > 0:
        await asyncio.sleep(delay / 1e9)


async def pace(senders: list, interval: float, start_ns: int, end_ns: int) -> float:
    """Call every `(phase, send)` once per interval at its phase (seconds), from start until
    end; returns how late the latest call was, in ms."""
    if not senders:
        await sleep_until(end_ns)
        return 0.0
    senders = sorted(senders, key=lambda sender: sender[0])
    base, late = start_ns, 0
    while True:
        for phase, send in senders:
            at = base + int(phase * 1e9)
            if at >= end_ns:
                return late / 1e6
            await sleep_until(at)
            late = max(late, time.monotonic_ns() - at)
            send()
        base += int(interval * 1e9)


async def send_window(control: Control, tally: Tally, senders: list, go: dict) -> None:
    """Warm up, send for the window, wait out the drain time, and report to the parent."""
    await pace(senders, go["interval"], go["warmup_ns"], go["start_ns"])
    tally.counting = True
    cpu_start, wait_start = time.process_time(), cpu_wait_seconds(os.getpid())
    late_ms = await pace(senders, go["interval"], go["start_ns"], go["end_ns"])
    window = (go["end_ns"] - go["start_ns"]) / 1e9
    cpu, wait = (time.process_time() - cpu_start) / window, (cpu_wait_seconds(os.getpid()) - wait_start) / window
    await sleep_until(go["end_ns"] + int(go["drain"] * 1e9))
    control.reply(
        "result",
        {"sent": tally.sent, "received": tally.received, "errors": tally.errors, "cpu": cpu, "wait": wait,
         "late_ms": late_ms},
    )  # fmt: skip


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Stop a socket's tasks, collecting the error of one that ended early (socket closed)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


# --- the server's processes -------------------------------------------------------------


def cpu_wait_seconds(pid: int) -> float:
    """How long the process's threads were ready to run but waited for a CPU (schedstat): on a
    shared machine, what tells a slow relay from one that was not let run."""
    waited = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            waited += int(stat.read_text().split()[1])
    return waited / 1e9


class ServerProbe:
    """CPU time and RSS of a server process and all its descendants (e.g. uvicorn's workers)."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            raise SystemExit(f"the server (pid {self.root.pid}) has exited") from None

    def sample(self) -> tuple[dict[int, tuple[float, float]], int]:
        """Per process (CPU seconds used, seconds waited for a CPU); the RSS of them all."""
        times, rss = {}, 0
        for process in self.processes():
            try:
                with process.oneshot():
                    cpu = process.cpu_times()
                    times[process.pid] = (cpu.user + cpu.system, cpu_wait_seconds(process.pid))
                    rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return times, rss

    @staticmethod
    def between(before: dict, after: dict) -> tuple[float, float]:
        """CPU seconds used and seconds waited for a CPU from one sample to the next."""
        used = sum(cpu - before.get(pid, (0.0, 0.0))[0] for pid, (cpu, _) in after.items())
        waited = sum(wait - before.get(pid, (0.0, 0.0))[1] for pid, (_, wait) in after.items())
        return used, waited


class MachineProbe:
    """What the rest of the machine spent meanwhile: every core's busy time, and PostgreSQL's
    and Redis's processes by name (embedded or the machine's own). On a small machine the
    relay shares its cores with them, so their share says how far the machine is from full."""

    SERVICES = {"postgres": "postgresql", "redis-server": "redis"}

    @classmethod
    def sample(cls) -> tuple[float, dict[int, tuple[str, float]]]:
        """The machine's busy CPU seconds (as psutil.cpu_percent counts them: guest time is
        already in user time); per service process, its name and CPU seconds."""
        busy = psutil.cpu_times()
        guest = getattr(busy, "guest", 0.0) + getattr(busy, "guest_nice", 0.0)
        machine = sum(busy) - busy.idle - getattr(busy, "iowait", 0.0) - guest
        services = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            service = cls.SERVICES.get(process.info["name"] or "")
            times = process.info["cpu_times"]
            if service and times is not None:
                services[process.pid] = (service, times.user + times.system)
        return machine, services

    @staticmethod
    def between(before: tuple, after: tuple) -> dict[str, float]:
        """CPU seconds from one sample to the next: the machine's, and per service the sum over
        its processes, each against its own earlier figure (0 if it started in between). A
        process that exited in between is missing from `after`: only its last moments are
        lost, not its whole life subtracted."""
        used = {"machine": after[0] - before[0], "postgresql": 0.0, "redis": 0.0}
        for pid, (service, cpu) in after[1].items():
            earlier = before[1].get(pid)
            used[service] += cpu - (earlier[1] if earlier and earlier[0] == service else 0.0)
        return used


def asgi_server_pid(port: int) -> int:
    """The uvicorn or daphne process serving `port` (the master when uvicorn runs workers)."""
    found = {}
    for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
        args = process.info["cmdline"] or []
        if str(port) in args and any(Path(arg).name in ("uvicorn", "daphne") for arg in args):
            found[process.info["pid"]] = process.info["ppid"]
    tops = [pid for pid, ppid in found.items() if ppid not in found]
    if len(tops) != 1:
        raise SystemExit(f"found {len(tops)} uvicorn/daphne processes for port {port}; pass --server-pid")
    return tops[0]


def measure(workers: Workers, probe: ServerProbe, go: dict, args) -> dict:
    """Run one sending window in every load generator and merge their counts exactly.

    The load starts `args.warmup` seconds before the window, so that connection pools, caches
    and lazy imports are warm when measuring starts."""
    duration = args.duration
    warmup_ns = time.monotonic_ns() + 1_000_000_000  # time for the command to reach every process
    start_ns = warmup_ns + int(args.warmup * 1e9)
    end_ns = start_ns + int(duration * 1e9)
    workers.send("go", {**go, "warmup_ns": warmup_ns, "start_ns": start_ns, "end_ns": end_ns, "drain": args.drain})
    time.sleep(max(0, start_ns - time.monotonic_ns()) / 1e9)
    cpu_before, _ = probe.sample()
    machine_before = MachineProbe.sample()
    time.sleep(max(0, end_ns - time.monotonic_ns()) / 1e9)
    cpu_after, rss = probe.sample()
    machine = MachineProbe.between(machine_before, MachineProbe.sample())
    results = workers.gather("result", timeout=args.drain + 120)

    received: dict[int, list] = {}
    for result in results:
        for message_id, (count, latency, sent_ns) in result["received"].items():
            seen = received.setdefault(message_id, [0, latency, sent_ns])
            seen[0] += count
            seen[1] = min(seen[1], latency)
    sent = [message_id for result in results for message_id in result["sent"]]
    latencies = sorted(received[m][1] for m in sent if m in received)
    by_second = tail_by_second([received[m][1:] for m in sent if m in received], start_ns)
    if getattr(args, "deliveries", None):
        write_deliveries(args.deliveries, [received[m][1:] for m in sent if m in received])
    server_cpu, server_wait = ServerProbe.between(cpu_before, cpu_after)
    return {
        "offered_per_s": go["offered_per_s"],
        "sent": len(sent),
        "window_s": duration,
        "delivered": len(latencies),
        "achieved_per_s": len(latencies) / duration,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        "lost": len(sent) - len(latencies),
        **by_second,
        "duplicated": sum(1 for m in sent if m in received and received[m][0] > 1),
        "errors": dict(sum((Counter(result["errors"]) for result in results), Counter())),
        "server_cpu_cores": server_cpu / duration,
        "server_cpu_wait": server_wait / duration,
        "server_us_per_msg": server_cpu * 1e6 / len(sent) if sent else float("nan"),
        "server_rss_mib": rss / 2**20,
        "server_processes": len(cpu_after),
        "machine_cpu_cores": machine["machine"] / duration,
        "machine_cores": psutil.cpu_count(),
        "postgresql_cpu_cores": machine["postgresql"] / duration,
        "postgresql_us_per_msg": machine["postgresql"] * 1e6 / len(sent) if sent else float("nan"),
        "redis_cpu_cores": machine["redis"] / duration,
        "loadgen_processes": len(results),
        "loadgen_cpu_max": max(result["cpu"] for result in results),
        "loadgen_wait_max": max(result["wait"] for result in results),
        "loadgen_late_ms": max(result["late_ms"] for result in results),
    }


def tail_by_second(deliveries: list[list], start_ns: int) -> dict:
    """Whether the slow messages came together (a stall: a collection, a checkpoint, a busy
    neighbour) or spread over the window (queueing): p99 of each second of sending, the worst
    second, and in how many seconds p99 was over TAIL_MS."""
    seconds: dict[int, list[float]] = {}
    for latency, sent_ns in deliveries:
        seconds.setdefault(max(0, (sent_ns - start_ns) // 1_000_000_000), []).append(latency)
    p99s = {second: percentile(sorted(values), 99) for second, values in seconds.items()}
    worst = max(p99s, key=p99s.get, default=None)
    return {
        "p99_by_second_ms": [round(p99s[second], 1) for second in sorted(p99s)],
        "worst_second": worst,
        "worst_second_p99_ms": p99s[worst] if worst is not None else float("nan"),
        "seconds_over_tail": sum(1 for p99 in p99s.values() if p99 > TAIL_MS),
    }


def write_deliveries(path: str, deliveries: list[list]) -> None:
    """Each delivered message's send time (Unix seconds) and latency (ms), as JSON: to line
    slow messages up with the server's, PostgreSQL's or Celery's logs."""
    to_unix = time.time() - time.monotonic_ns() / 1e9
    with open(path, "w") as file:
        json.dump([[round(sent_ns / 1e9 + to_unix, 4), round(latency, 2)] for latency, sent_ns in deliveries], file)


def print_summary(summary: dict) -> None:
    s = summary
    print(f"{s['label']}, {s['sockets']} sockets")
    print(f"messages sent      {s['sent']} in {s['window_s']:.1f} s (offered {s['offered_per_s']:.0f}/s)")
    print(f"messages delivered {s['delivered']} ({s['achieved_per_s']:.0f}/s)")
    print(f"latency ms         p50 {s['p50_ms']:.1f}  p90 {s['p90_ms']:.1f}  p99 {s['p99_ms']:.1f}  "
          f"max {s['max_ms']:.1f}")  # fmt: skip
    print(f"latency mean ms    {s['mean_ms']:.1f}")
    print(f"p99 per second ms  {' '.join(f'{p99:.0f}' for p99 in s['p99_by_second_ms'])}; the worst "
          f"{s['worst_second_p99_ms']:.1f} (second {s['worst_second']}), over {TAIL_MS:.0f} ms in "
          f"{s['seconds_over_tail']} of {len(s['p99_by_second_ms'])}")  # fmt: skip
    print(f"lost               {s['lost']}")
    print(f"duplicated         {s['duplicated']}")
    if s["errors"]:
        print(f"error frames       {', '.join(f'{code} {n}' for code, n in s['errors'].items())}")
    print(f"server CPU         {s['server_cpu_cores']:.2f} cores, {s['server_us_per_msg']:.0f} µs per message "
          f"({s['server_processes']} process{'es' if s['server_processes'] > 1 else ''}), "
          f"waiting for a CPU {s['server_cpu_wait']:.2f} s per s")  # fmt: skip
    print(f"machine CPU        {s['machine_cpu_cores']:.2f} of {s['machine_cores']} cores busy; PostgreSQL "
          f"{s['postgresql_cpu_cores']:.2f} cores ({s['postgresql_us_per_msg']:.0f} µs per message), "
          f"Redis {s['redis_cpu_cores']:.2f}")  # fmt: skip
    print(f"server RSS         {s['server_rss_mib']:.1f} MiB, {s['idle_kib_per_socket']:.1f} KiB per idle socket")
    print(f"load generator     {s['loadgen_processes']} processes, the busiest at {s['loadgen_cpu_max']:.0%} "
          f"of a core, waiting for a CPU up to {s['loadgen_wait_max']:.2f} s per s, "
          f"sending at most {s['loadgen_late_ms']:.0f} ms late")  # fmt: skip
    if s["loadgen_cpu_max"] > LOADGEN_BUSY:
        print("warning: a load-generator process was nearly saturated; add --processes", file=sys.stderr)


def describe(result: dict) -> str:
    """One line per measured load, for progress output."""
    r = result
    if r.get("error"):
        return f"{r['label']}: {r['error']}"
    busy = "  (load generator saturated)" if r["loadgen_cpu_max"] > LOADGEN_BUSY else ""
    errors = "".join(f", error {code} {n}" for code, n in r["errors"].items())
    return (
        f"{r['label']}: offered {r['offered_per_s']:.0f}/s, achieved {r['achieved_per_s']:.0f}/s, "
        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, lost {r['lost']}, dup {r['duplicated']}{errors}; "
        f"server {r['server_cpu_cores']:.2f} cores (CPU wait {r['server_cpu_wait']:.2f}), "
        f"{r['server_us_per_msg']:.0f} µs/msg, {r['server_rss_mib']:.0f} MiB; "
        f"machine {r['machine_cpu_cores']:.2f} of {r['machine_cores']} cores, "
        f"PostgreSQL {r['postgresql_cpu_cores']:.2f}; "
        f"load generator busiest {r['loadgen_cpu_max']:.0%} (CPU wait {r['loadgen_wait_max']:.2f}){busy}"
    )


def passes(result: dict) -> bool:
    """The relay carried this load: every message delivered, p99 under the limit."""
    return not result.get("error") and result["lost"] == 0 and result["p99_ms"] < P99_LIMIT_MS


def step_search(steps: list[int], measure_step) -> dict:
    """Measure rising loads until one fails; the best is the highest achieved msg/s that passed."""
    results = []
    for step in steps:
        result = measure_step(step)
        results.append(result)
        print(describe(result), file=sys.stderr, flush=True)
        if not passes(result):
            break
    carried = [result for result in results if passes(result)]
    return {"steps": results, "best": max(carried, key=lambda result: result["achieved_per_s"], default=None)}


def idle_kib_per_socket(rss_before: int, rss_after: int, sockets: int) -> float:
    return (rss_after - rss_before) / 1024 / sockets if sockets else float("nan")


# --- the chat relay ---------------------------------------------------------------------


def bench_setup(agents: int, capacity: int) -> dict:
    done = subprocess.run(  # noqa: S603 - our own manage command
        [sys.executable, "-m", "contactcenter.run", "--manage", "bench_setup", "--agents", str(agents),
         "--capacity", str(capacity)],
        cwd=BASE_DIR, env={**os.environ, "CC_DEMO_MODE": "true"}, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench_setup failed (exit code {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))


class Throttled(Exception):
    pass


async def open_socket(url: str):
    """Connect as a client would: a handshake the server dropped is tried again (a chat
    client reconnects and resumes; PROTOCOL.md)."""
    for attempt in range(3):
        try:
            return await websockets.connect(url, max_queue=None, open_timeout=60)
        except (websockets.InvalidMessage, OSError, TimeoutError):
            if attempt == 2:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def agent_session(
    ws_url: str, token: str, tally: Tally, assigned: dict, ready: asyncio.Event, stop, opening: asyncio.Semaphore
):
    # Hundreds of agents logging on at one instant is not a load we measure: a bounded number
    # of handshakes in flight, each given time, so setting up P2's 625 agents cannot time out.
    async with opening:
        ws = await open_socket(ws_url + "/ws/agent/")
    async with ws:
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
                    assigned[frame["conversation_id"]] = outbox
                elif (
                    kind == "message"
                    and frame.get("author", {}).get("role") == "customer"
                    and frame.get("conversation_id") in assigned
                ):
                    tally.record(frame["text"])
                elif kind == "error":
                    tally.errors[frame.get("code", "")] += 1

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
        await cancel_all(tasks)


async def customer_session(
    http: httpx.AsyncClient, ws_url: str, widget: str, tally: Tally, customers: dict, stop, starting
):
    async with starting:  # a bounded number of REST starts and socket opens in flight
        for attempt in range(3):
            try:
                response = await http.post(f"/api/v1/widget/{widget}/conversations", json={"prechat": {}})
                break
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed an idle keep-alive connection just as it was reused (uvicorn
                # closes them after 5 s); the request never reached it, so it is sent again.
                if attempt == 2:
                    raise
        if response.status_code == 429:
            raise Throttled("the server throttles conversation starts: run it with CC_THROTTLE_CUSTOMER=1000000/hour")
        response.raise_for_status()
        started = response.json()
        ws = await open_socket(ws_url + started["ws_url"])
    async with ws:
        await ws.send(json.dumps({"type": "auth", "token": started["customer_token"], "after_seq": 0}))
        outbox: asyncio.Queue = asyncio.Queue()
        customers[started["conversation_id"]] = outbox

        async def reader():
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("author", {}).get("role") == "agent":
                    tally.record(frame["text"])
                elif frame.get("type") == "error":
                    tally.errors[frame.get("code", "")] += 1

        async def writer():
            while True:
                _, text = await outbox.get()
                await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": text}))

        tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
        try:
            await stop.wait()
            await ws.send(json.dumps({"type": "end"}))
        finally:
            await cancel_all(tasks)


def first_failure(tasks: list[asyncio.Task]) -> BaseException | None:
    return next((task.exception() for task in tasks if task.done() and task.exception()), None)


async def chat_worker(control: Control, index: int, count: int, args, setup: dict, run: str) -> None:
    """One load-generator process: its share of the agent sockets and of the conversations."""
    ws_url = args.url.replace("http", "ws", 1)
    tally = Tally(run, index)
    customers: dict[str, asyncio.Queue] = {}  # conversation id -> the customer socket's outbox
    assigned: dict[str, asyncio.Queue] = {}  # conversation id -> the outbox of its agent's socket
    stop_agents, stop_customers = asyncio.Event(), asyncio.Event()

    tokens = setup["tokens"][index::count]
    readies = [asyncio.Event() for _ in tokens]
    opening = asyncio.Semaphore(max(1, 20 // count))
    agent_tasks = [
        asyncio.create_task(agent_session(ws_url, token, tally, assigned, ready, stop_agents, opening))
        for token, ready in zip(tokens, readies, strict=True)
    ]
    waiting = [asyncio.create_task(ready.wait()) for ready in readies]
    while not all(task.done() for task in waiting):
        if failure := first_failure(agent_tasks):
            raise failure
        await asyncio.sleep(0.1)
    control.reply("agents", len(tokens))

    await control.receive("customers")
    share = len(range(index, args.conversations, count))
    starting = asyncio.Semaphore(max(1, 50 // count))
    async with httpx.AsyncClient(base_url=args.url, timeout=60, limits=httpx.Limits(max_connections=50)) as http:
        customer_tasks = [
            asyncio.create_task(
                customer_session(http, ws_url, setup["widget"], tally, customers, stop_customers, starting)
            )
            for _ in range(share)
        ]
        while len(customers) < share:
            if failure := first_failure(customer_tasks):
                raise failure
            await asyncio.sleep(0.1)
    control.reply("customers", list(customers))

    while True:
        kind, go = await control.receive("poll", "go")
        if kind == "go":
            break
        control.reply("assigned", list(assigned))

    # Conversation i of the paired list: in --rate mode its customer speaks at slot i and its
    # agent at slot N + i of 2N even slots per interval; otherwise each at a random phase.
    paired = go["paired"]

    def send(outbox: asyncio.Queue, cid: str) -> None:
        outbox.put_nowait((cid, tally.tag()))

    senders = []
    for i, cid in enumerate(paired):
        for slot, outbox in ((i, customers.get(cid)), (len(paired) + i, assigned.get(cid))):
            if outbox is not None:
                phase = slot * go["interval"] / (2 * len(paired)) if go["even"] else random.uniform(0, go["interval"])
                senders.append((phase, functools.partial(send, outbox, cid)))
    await send_window(control, tally, senders, go)

    await control.receive("stop")
    stop_customers.set()
    await asyncio.gather(*customer_tasks, return_exceptions=True)
    stop_agents.set()
    await asyncio.gather(*agent_tasks, return_exceptions=True)


def run(args) -> dict:
    agents_needed = max(1, math.ceil(args.conversations / CAPACITY))
    setup = bench_setup(agents_needed, CAPACITY)
    if setup["vacuumed"]:
        # The server runs without autovacuum: what it would have cleaned since the last load.
        done = ", ".join(f"{table} ({action})" for table, action in setup["vacuumed"].items())
        print(f"PostgreSQL's autovacuum is off; vacuumed as it would have: {done}", file=sys.stderr)
    pid = args.server_pid or asgi_server_pid(urlsplit(args.url).port or 80)
    probe = ServerProbe(pid)
    _, rss_before = probe.sample()
    run_id = uuid.uuid4().hex[:8]  # texts of earlier runs never count as this run's
    with Workers(args.processes, chat_worker, args, setup, run_id) as workers:
        agents = sum(workers.gather("agents", timeout=120))
        time.sleep(0.5)
        began = time.monotonic()
        workers.send("customers")
        customers = {
            cid for share in workers.gather("customers", timeout=120 + args.conversations / 10) for cid in share
        }
        deadline = time.monotonic() + 120
        while True:
            workers.send("poll")
            paired = customers & {cid for share in workers.gather("assigned", timeout=60) for cid in share}
            if len(paired) >= args.conversations or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        setup_seconds = time.monotonic() - began
        print(f"{len(paired)}/{args.conversations} conversations paired with agents in {setup_seconds:.1f} s",
              file=sys.stderr)  # fmt: skip
        time.sleep(1)  # let the last sockets settle before the idle memory is read
        _, rss_after = probe.sample()
        sockets = agents + len(customers)
        n = len(paired)
        if args.interval_seconds:
            interval, offered = args.interval_seconds, 2 * n / args.interval_seconds
        else:
            interval, offered = 2 * n / args.rate if n else 1.0, args.rate
        go = {
            "paired": sorted(paired),
            "interval": interval,
            "even": not args.interval_seconds,
            "offered_per_s": offered,
        }
        summary = measure(workers, probe, go, args)
    return {
        "label": f"our relay, {n} conversations",
        "conversations": n,
        "agents": agents,
        "sockets": sockets,
        "setup_s": setup_seconds,
        "vacuumed": setup["vacuumed"],
        "idle_kib_per_socket": idle_kib_per_socket(rss_before, rss_after, sockets),
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--conversations", type=int, default=100)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", type=float, default=100.0, help="messages per second, all conversations together")
    load.add_argument("--interval-seconds", type=float, help="every customer and every agent sends once per interval")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--server-pid", type=int, help="the ASGI server (default: the uvicorn/daphne on the URL's port)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON summary line")
    parser.add_argument("--deliveries", metavar="PATH", help="write each message's send time and latency (JSON)")
    args = parser.parse_args()
    handle_stop_signals()
    raise_fd_limit()
    try:
        summary = run(args)
    except KeyboardInterrupt:
        sys.exit(130)  # everything started is stopped by now; no traceback
    if args.json:
        print(json.dumps(summary))
    else:
        print_summary(summary)


if __name__ == "__main__":
    main()
