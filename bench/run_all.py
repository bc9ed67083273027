#!/usr/bin/env python
"""`make bench`: the benchmarks of issue 9 in one run, ending with one line per goal.

  baseline  bench/relay_baseline.py: step searches over the bare and the reference relay;
  p1        our relay (bench/chat_load.py), one message per second per side: a step search
            for the highest load with p99 < 100 ms and nothing lost, then half that load;
  p2        5,000 conversations, one message per 15 s per side: p99 and memory per idle socket;
  p3        bench/routing.py --agents 1000 --items 5000 --processes 2;
  p4        bench/reports.py --contacts 1000000: the hour x day table of one month.

For p1 and for p2 it starts the system afresh (`contactcenter.run` on port 8100 with the
chat-start throttle lifted; embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are
set) and stops it before p3 and p4, which its Celery beat would otherwise compete with.
Everything runs on 127.0.0.1; every process started is stopped at the end, also on Ctrl-C.

    make bench
    make bench ARGS="--quick"              # small loads in a few minutes: a smoke test
    .venv/bin/python bench/run_all.py --only p1,p2 --server uvicorn --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
from chat_load import P99_LIMIT_MS, describe, die_with_parent, handle_stop_signals, raise_fd_limit, step_search
from relay_baseline import DEFAULT_STEPS, PORTS

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
PARTS = ("baseline", "p1", "p2", "p3", "p4")

# Each part starts on a quiet machine: what one part leaves running (PostgreSQL vacuuming and
# checkpointing P2's rows, a stopped system's Celery finishing) is not to be measured in the
# next. Quiet: the whole machine within QUIET_CORES of the least it was seen busy in this run
# (its own background, whatever else it carries), for QUIET_SECONDS; waited for up to the
# plan's limit.
QUIET_CORES = 0.3
QUIET_SECONDS = 3
SETTLE_LIMIT_SECONDS = 300


# Per part: the full run, and a --quick one that only shows the harness works.
FULL = {
    "steps": DEFAULT_STEPS,
    "duration": 20.0,
    "drain": 5.0,
    "p2": {"conversations": 5000, "interval": 15.0, "duration": 60.0},
    "p3": ["--agents", "1000", "--items", "5000", "--processes", "2"],
    "p4": ["--contacts", "1000000"],
    "settle": SETTLE_LIMIT_SECONDS,
}
QUICK = {
    "steps": "10,20",
    "duration": 3.0,
    "drain": 2.0,
    "p2": {"conversations": 40, "interval": 3.0, "duration": 3.0},
    "p3": ["--agents", "20", "--items", "100", "--processes", "2", "--latency-samples", "20"],
    "p4": ["--contacts", "20000"],
    "settle": 5,
}


class PartFailed(Exception):
    pass


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGINT first, as Ctrl-C would, so the process tidies up (its servers, its bench data)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_script(script: str, *args: str) -> str:
    """Run one of the bench scripts; its progress (stderr) shows as it comes, stdout is returned."""
    # Its own session, as the system: a Ctrl-C reaches only us, and we pass one SIGINT on.
    process = subprocess.Popen(  # noqa: S603 - our own scripts
        [sys.executable, str(BENCH_DIR / script), *args], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        output, _ = process.communicate()
    finally:
        stop_process(process, 60)
    if process.returncode != 0:
        raise PartFailed(f"{script} exited with code {process.returncode}")
    return output


def last_json(output: str, script: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise PartFailed(f"{script} printed no summary")
    return json.loads(lines[-1])


@contextlib.contextmanager
def system(args):
    """The whole system on --port, as `make run` starts it; its log goes to a file."""
    env = {
        **os.environ,
        "PORT": str(args.port),
        "CC_THROTTLE_CUSTOMER": "1000000/hour",
        "CC_ASGI_SERVER": args.server,
        "CC_ASGI_WORKERS": str(args.workers),
        "CC_DEMO_MODE": "true",
    }
    log = tempfile.NamedTemporaryFile(prefix="bench-system-", suffix=".log", delete=False)
    print(f"starting the system on port {args.port} ({args.server} x{args.workers}); log: {log.name}", flush=True)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "contactcenter.run"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # a first run migrates a new database
        while not ready(f"http://127.0.0.1:{args.port}/readyz"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = Path(log.name).read_text(errors="replace").splitlines()[-15:]
                print("\n".join(tail), file=sys.stderr)
                raise PartFailed(f"the system did not become ready; see {log.name}")
            time.sleep(1)
        yield process
    finally:
        print("stopping the system", flush=True)
        stop_process(process, 90)
        log.close()


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200
    except OSError:
        return False


def baseline(args, plan, relay: str) -> dict:
    output = run_script(
        "relay_baseline.py", "--relay", relay, "--json", "--steps", plan["steps"], "--duration", str(plan["duration"]),
        "--drain", str(plan["drain"]), "--processes", str(args.processes), "--workers", str(args.workers),
    )  # fmt: skip
    return last_json(output, "relay_baseline.py")


def chat_load(args, plan, runner: subprocess.Popen, conversations: int, interval: float, duration: float) -> dict:
    label = f"our relay ({args.server}, {args.workers} worker{'s' if args.workers > 1 else ''}), {conversations} conv."
    try:
        output = run_script(
            "chat_load.py", "--url", f"http://127.0.0.1:{args.port}", "--conversations", str(conversations),
            "--interval-seconds", str(interval), "--duration", str(duration), "--drain", str(plan["drain"]),
            "--processes", str(args.processes), "--json",
        )  # fmt: skip
        return {**last_json(output, "chat_load.py"), "label": label}
    except PartFailed as error:
        if runner.poll() is not None:
            raise PartFailed("the system stopped during the run; see its log") from None
        return {"label": label, "error": str(error)}


def p1(args, plan, runner: subprocess.Popen) -> dict:
    found = step_search(
        [int(step) for step in plan["steps"].split(",")],
        lambda n: chat_load(args, plan, runner, n, 1.0, plan["duration"]),
    )
    best = found["best"]
    if best and best["conversations"] >= 2:
        half = chat_load(args, plan, runner, best["conversations"] // 2, 1.0, plan["duration"])
        half["label"] += ", half the best load"
        print(describe(half), file=sys.stderr, flush=True)
        found["half"] = half
    return found


def p2(args, plan, runner: subprocess.Popen) -> dict:
    load = plan["p2"]
    result = chat_load(args, plan, runner, load["conversations"], load["interval"], load["duration"])
    result["label"] = f"P2: {result['label']}, 1 msg per {load['interval']:g} s per side"
    print(describe(result), file=sys.stderr, flush=True)
    if result.get("error"):
        raise PartFailed(result["error"])
    return result


def p3(plan) -> dict:
    output = run_script("routing.py", *plan["p3"])
    print(output, file=sys.stderr, flush=True)
    rate = re.search(r"= (\d+) offers/s", output)
    latency = re.search(r"enqueue-to-offer: p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", output)
    if not (rate and latency):
        raise PartFailed("no figures in the output of routing.py")
    return {"assignments_per_s": float(rate[1]), "p50_ms": float(latency[1]), "p99_ms": float(latency[2])}


def p4(plan) -> dict:
    output = run_script("reports.py", *plan["p4"])
    print(output, file=sys.stderr, flush=True)
    month = re.search(r"hour x day, one month, all queues\s+median\s+(\d+) ms", output)
    if not month:
        raise PartFailed("no hour x day figure in the output of reports.py")
    return {"contacts": int(plan["p4"][1]), "seconds": int(month[1]) / 1000}


# --- the report -------------------------------------------------------------------------


def ratio(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def table(rows: list[tuple[dict, bool]], bare_best: dict | None) -> None:
    """One row per measured load; the best of each step search is starred and compared."""
    head = ("configuration", "offered/s", "achieved/s", "p50 ms", "p99 ms", "lost", "dup", "CPU cores", "µs/msg",
            "RSS MiB", "PG cores", "busy cores", "x bare")  # fmt: skip
    lines = []
    for row, best in rows:
        name = ("* " if best else "  ") + row["label"]
        if row.get("error"):
            lines.append((name, "failed: " + row["error"]))
            continue
        compared = ratio(row["achieved_per_s"] / bare_best["achieved_per_s"]) if best and bare_best else ""
        lines.append(
            (name, f"{row['offered_per_s']:.0f}", f"{row['achieved_per_s']:.0f}", f"{row['p50_ms']:.1f}",
             f"{row['p99_ms']:.1f}", str(row["lost"]), str(row["duplicated"]), f"{row['server_cpu_cores']:.2f}",
             f"{row['server_us_per_msg']:.0f}", f"{row['server_rss_mib']:.0f}", f"{row['postgresql_cpu_cores']:.2f}",
             f"{row['machine_cpu_cores']:.2f}", compared)
        )  # fmt: skip
    width = max(len(line[0]) for line in [head, *lines])
    print(f"{head[0]:<{width}}" + "".join(f" {cell:>10}" for cell in head[1:]))
    for line in lines:
        print(f"{line[0]:<{width}}" + "".join(f" {cell:>10}" for cell in line[1:]))
    print(f"(* the highest load carried with p99 < {P99_LIMIT_MS:.0f} ms and nothing lost; "
          "CPU and RSS are the server's process tree, for our relay the ASGI server's; PG cores are PostgreSQL's "
          "processes, busy cores the whole machine's)")  # fmt: skip


def goal_lines(results: dict) -> list[str]:
    def line(goal: str, figures) -> str:
        found = results.get(goal.lower())
        if found is None:
            return f"{goal}: not run"
        if isinstance(found, str):
            return f"{goal}: failed ({found})"
        return f"{goal}: {figures(found)}"

    def p1_figures(found: dict) -> str:
        best = found["best"]
        if best is None:
            first = found["steps"][0]
            seen = first.get("error") or (
                f"at {first['offered_per_s']:.0f} msg/s: p99 {first['p99_ms']:.0f} ms, lost {first['lost']}"
            )
            return f"no load carried with p99 < {P99_LIMIT_MS:.0f} ms and nothing lost ({seen})"
        compared = []
        for name, key in (("bare relay", "bare"), ("reference", "reference")):
            other = results.get(key)
            carried = other["best"] if isinstance(other, dict) else None
            compared.append(
                f"ratio to {name} " + (ratio(best["achieved_per_s"] / carried["achieved_per_s"]) if carried else "n/a")
            )
        return (
            f"{best['achieved_per_s']:.0f} msg/s at p99 {best['p99_ms']:.0f} ms, lost {best['lost']}, "
            f"dup {best['duplicated']}, " + ", ".join(compared)
        )

    return [
        line("P1", p1_figures),
        line("P2", lambda found: f"{found['conversations']} conversations, p99 {found['p99_ms']:.0f} ms, "
             f"{found['idle_kib_per_socket']:.0f} KiB per idle socket"),
        line("P3", lambda found: f"enqueue->offer p99 {found['p99_ms']:.0f} ms, "
             f"{found['assignments_per_s']:.0f} assignments/s"),
        line("P4", lambda found: f"hour x day over {found['contacts']} in {found['seconds']:.3g} s"),
    ]  # fmt: skip


def report(results: dict) -> None:
    rows = []
    for name in ("bare", "reference", "p1"):
        found = results.get(name)
        if isinstance(found, dict):
            rows += [(step, step == found["best"]) for step in found["steps"]]
            if "half" in found:
                rows.append((found["half"], False))
    if isinstance(results.get("p2"), dict):
        rows.append((results["p2"], False))
    print()
    if rows:
        bare = results.get("bare")
        table(rows, bare["best"] if isinstance(bare, dict) else None)
        print()
    for line in goal_lines(results):
        print(line)


def on_fresh_system(part, args, plan) -> dict:
    # P1 and P2 each get a system of their own: P2's memory per idle socket is not to be
    # memory that P1 freed and the server reuses.
    with system(args) as runner:
        settle(plan["settle"])  # the workers', Celery's and the beat's start-up
        return part(args, plan, runner)


def busy_cores() -> float:
    """The whole machine's busy cores over the next second."""
    return psutil.cpu_percent(interval=1) / 100 * (psutil.cpu_count() or 1)


class Settle:
    """Waits for a quiet machine: QUIET_SECONDS in a row that differ by less than QUIET_CORES
    (not still falling) and are within QUIET_CORES of the floor. The floor is the least busy
    second seen in this run, first measured before anything of ours starts: on a machine with
    a steady load of its own, quiet means back to that load, not under an absolute figure it
    never reaches. A wait that runs out takes its own least second as the new floor (the
    machine took on more meanwhile), so the parts after it do not each wait the whole limit."""

    def __init__(self, read=busy_cores):
        self.read, self.floor = read, math.inf

    def __call__(self, limit: float) -> bool:
        seen, settled = [], False
        while not settled and len(seen) < limit:
            seen.append(self.read())
            last = seen[-QUIET_SECONDS:]
            settled = len(last) == QUIET_SECONDS and max(last) - min(last) < QUIET_CORES
            settled = settled and max(last) < self.floor + QUIET_CORES
        self.floor = min(self.floor, *seen[-QUIET_SECONDS:]) if settled else min(seen, default=self.floor)
        verdict = "quiet" if settled else f"still busy after {limit:.0f} s; measuring anyway"
        print(f"the machine: {verdict} ({seen[-1] if seen else math.nan:.2f} busy cores, the least seen "
              f"{self.floor:.2f}; {len(seen)} s waited)", file=sys.stderr, flush=True)  # fmt: skip
        return settled


settle = Settle()


def attempt(results: dict, name: str, work, plan: dict) -> None:
    """Run one part; a failure is reported in its goal line and the other parts still run."""
    try:
        settle(plan["settle"])
        results[name] = work()
    except PartFailed as error:
        print(f"{name}: {error}", file=sys.stderr, flush=True)
        results[name] = str(error)
    except (KeyboardInterrupt, SystemExit):
        results[name] = "interrupted"
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small loads: checks the harness, measures nothing")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn", help="our ASGI server")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),  # as `make run`
        help="uvicorn workers (ours and the reference relay's); one per core up to 4 by default",
    )
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--steps", help="loads (pairs, conversations) for the step searches, comma-separated")
    parser.add_argument("--duration", type=float, help="seconds of sending per load")
    parser.add_argument("--port", type=int, default=8100, help="the system's port")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if unknown := parts - set(PARTS):
        parser.error(f"unknown part {', '.join(sorted(unknown))}; choose from {','.join(PARTS)}")
    if args.port in PORTS.values():
        parser.error(f"port {args.port} is the baselines'")
    if args.server == "daphne" and args.workers != 1:
        parser.error("daphne runs one process; --workers is for uvicorn")
    plan = dict(QUICK if args.quick else FULL)
    plan.update({key: value for key, value in (("steps", args.steps), ("duration", args.duration)) if value})
    handle_stop_signals()
    raise_fd_limit()

    results: dict = {}
    try:
        if "baseline" in parts:
            for relay in ("bare", "reference"):
                attempt(results, relay, lambda relay=relay: baseline(args, plan, relay), plan)
        for name, part in (("p1", p1), ("p2", p2)):
            if name in parts:
                attempt(results, name, functools.partial(on_fresh_system, part, args, plan), plan)
        if "p3" in parts:
            attempt(results, "p3", lambda: p3(plan), plan)
        if "p4" in parts:
            attempt(results, "p4", lambda: p4(plan), plan)
    except KeyboardInterrupt:
        print("interrupted; what was measured so far:", file=sys.stderr)
    finally:
        report(results)


if __name__ == "__main__":
    main()
