"""Chats under faults (issue 10): an ASGI worker killed, Redis restarted, PostgreSQL restarted.

The system runs as `make run` runs it: uvicorn with two worker processes. Redis is the
test's own, so that it can be killed and started again. PostgreSQL is reached through a TCP
proxy, so that it can be "restarted" for the servers alone: it ends their sessions as a
restart does, and the proxy refuses new connections while it is down. 200 chats talk at one
message per second each while the fault happens. CI runs the short form; `CC_FAULTS=long`
(bench/faults.py) runs each fault under a longer load.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil
import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its DB connections
from rest_framework.authtoken.models import Token

from tests import processes
from tests.factories import AgentProfileFactory, QueueMembershipFactory
from tests.faults.chats import ChatLoad, Verdict, duplicate_client_ids, stored_history, unseen, verdict
from tests.netproxy import CuttableProxy
from tests.processes import RedisServer, ServerProcess, start_uvicorn

pytestmark = pytest.mark.django_db(transaction=True)

LONG = os.environ.get("CC_FAULTS") == "long"
CHATS = 200
RATE_PER_CHAT = 1.0  # messages per second, the two sides together
AGENTS, CAPACITY = 25, 8
SERVER_SESSIONS = "cc-fault-server"  # the application_name of the servers' database sessions
BEFORE_SECONDS = 20 if LONG else 5  # of load before the fault
AFTER_SECONDS = 40 if LONG else 8  # of load after recovery
SETTLE_SECONDS = 30


@dataclass
class Rig:
    server: ServerProcess
    redis: RedisServer
    database: CuttableProxy
    load: ChatLoad

    def worker_pids(self) -> list[int]:
        master = psutil.Process(self.server.process.pid)
        return sorted(
            child.pid for child in master.children() if "spawn_main" in " ".join(child.cmdline())
        )  # not the resource tracker

    def busiest_worker(self) -> int:
        port = urlsplit(self.server.url).port

        def sockets(pid: int) -> int:
            connections = psutil.Process(pid).net_connections(kind="tcp")
            return sum(1 for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)

        return max(self.worker_pids(), key=sockets)


@pytest.fixture
def rig(tmp_path, roles, queue, widget):
    queue.assignment_mode = "direct"
    queue.save(update_fields=["assignment_mode"])
    tokens = []
    for number in range(AGENTS):
        agent = AgentProfileFactory(chat_capacity=CAPACITY, user__username=f"fault-agent-{number}")
        QueueMembershipFactory(agent=agent, queue=queue)
        tokens.append(Token.objects.create(user=agent.user).key)

    redis = RedisServer(tmp_path)
    database_url = urlsplit(processes.test_database_url())
    database = CuttableProxy(target_port=database_url.port or 5432)
    proxied = database_url._replace(
        netloc=f"{database_url.username}@127.0.0.1:{database.port}", query=f"application_name={SERVER_SESSIONS}"
    ).geturl()
    server = start_uvicorn(
        tmp_path,
        workers=2,
        DATABASE_URL=proxied,
        REDIS_URL=redis.url,
        CC_THROTTLE_CUSTOMER="1000000/minute",
        LOG_LEVEL="WARNING",
    )
    load = ChatLoad(server.url, widget.key, tokens, chats=CHATS, rate_per_chat=RATE_PER_CHAT)
    yield Rig(server=server, redis=redis, database=database, load=load)
    server.stop()
    redis.stop()
    database.close()


async def converge(load: ChatLoad, since: float, within: float = SETTLE_SECONDS) -> float | None:
    """Seconds from `since` until every client is connected, every message sent by then is
    acknowledged or refused, and every frame stored by then has reached both participants;
    None if not within `within`."""
    ids = [chat.conversation_id for chat in load.chats]
    history = await sync_to_async(stored_history)(ids)
    waiting = [(view, client_id) for _, _, view in load.views() for client_id in view.pending]
    while True:
        if (
            all(client.connected.is_set() for client in load.clients())
            and not any(client_id in view.pending for view, client_id in waiting)
            and unseen(load, history) == 0
        ):
            return time.monotonic() - since
        if time.monotonic() - since > within:
            print(f"FAULT not converged: {lagging(load, history, waiting)}", flush=True)  # noqa: T201
            return None
        await asyncio.sleep(0.2)


def lagging(load: ChatLoad, history, waiting) -> str:
    """Who had not converged, and on what: for the failure message."""
    disconnected = sum(not client.connected.is_set() for client in load.clients())
    still_waiting = sum(client_id in view.pending for view, client_id in waiting)
    unseen_by: dict[str, list] = {"customer": [], "agent": []}
    for conversation_id, participant, view in load.views():
        for seq, client_id in history[conversation_id].items():
            shown = view.frames.get(seq)
            if shown is None or shown.get("client_id") != client_id:
                unseen_by[participant].append((conversation_id[:8], seq, view.last_seq))
    # Each unacknowledged message: whose, how long ago it was said, and its client's sockets
    # since (a resend happens only on a new socket).
    unacknowledged = []
    now = time.monotonic()
    for conversation_id, participant, view in load.views():
        client = load.client_of(conversation_id, participant)
        for client_id in view.pending:
            said = view.said_at.get(client_id)
            unacknowledged.append(
                f"{participant} {conversation_id[:8]} {client_id[:8]} said {now - said:.1f} s ago"
                f" (sockets opened {client.stats.opened}, drops {client.stats.drops},"
                f" errors {dict(client.stats.errors)})"
            )
    return (
        f"{disconnected} clients disconnected, {still_waiting} messages unacknowledged {unacknowledged[:8]}, "
        f"unseen by customers "
        f"{len(unseen_by['customer'])} {unseen_by['customer'][:5]}, by agents {len(unseen_by['agent'])} "
        f"{unseen_by['agent'][:5]}"
    )


@dataclass
class Outcome:
    result: Verdict
    recovered: float | None  # seconds from recovery until every client had converged
    settled: float | None  # seconds from the end of the load until the same
    gaps: int


async def under_load(rig: Rig, name: str, fault: Callable[[], Awaitable[None]]) -> Outcome:
    """Chats talk; `fault` breaks something and returns once it is mended. The talk stops
    at that moment, so convergence owes nothing to new messages; it then resumes for a while
    before the judgement."""
    load = rig.load
    await load.start()
    load.talk()
    await asyncio.sleep(BEFORE_SECONDS)
    await fault()
    await load.quiet()
    recovered = await converge(load, time.monotonic())
    load.talk()
    await asyncio.sleep(AFTER_SECONDS)
    await load.quiet()
    settled = await converge(load, time.monotonic())
    ids = [chat.conversation_id for chat in load.chats]
    history = await sync_to_async(stored_history)(ids)
    result = verdict(load, history, await sync_to_async(duplicate_client_ids)(ids))
    gaps = await sync_to_async(stored_gaps)(ids)
    await load.stop()
    # bench/faults.py collects these lines from the long form.
    print(f"FAULT {name}: {result.line()}, converged {_seconds(recovered)} after recovery", flush=True)  # noqa: T201
    return Outcome(result=result, recovered=recovered, settled=settled, gaps=gaps)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def stored_gaps(conversation_ids: list[str]) -> int:
    """Conversations whose stored seqs are not exactly 1..last_seq: a half-written send."""
    from chat.models import Conversation

    history = stored_history(conversation_ids)
    rows = Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", "last_seq")
    last = {str(pk): seq for pk, seq in rows}
    return sum(1 for cid, frames in history.items() if sorted(frames) != list(range(1, last[cid] + 1)))


def assert_whole(outcome: Outcome) -> None:
    assert outcome.result.clean, outcome.result.line()
    assert outcome.gaps == 0
    assert outcome.recovered is not None, "some client never converged after recovery"
    assert outcome.settled is not None


async def test_an_asgi_worker_killed_mid_load_loses_and_duplicates_nothing(rig):
    victims = []

    async def kill_a_worker():
        victim = psutil.Process(rig.busiest_worker())
        victims.append(victim.pid)
        victim.send_signal(signal.SIGKILL)
        psutil.wait_procs([victim], timeout=5)

    outcome = await under_load(rig, "kill -9 of one of two ASGI workers", kill_a_worker)
    assert_whole(outcome)
    assert outcome.result.drops >= 10, "the killed worker held too few of the sockets to prove anything"
    assert len(rig.worker_pids()) == 2  # uvicorn started another
    assert victims[0] not in rig.worker_pids()


async def test_a_redis_restart_refuses_or_stores_every_send_and_clients_converge(rig):
    workers = rig.worker_pids()

    async def restart_redis():
        rig.redis.crash()
        await asyncio.sleep(10)
        rig.redis.start()

    outcome = await under_load(rig, "Redis down 10 s", restart_redis)
    assert_whole(outcome)
    assert outcome.recovered <= 10
    assert rig.worker_pids() == workers  # recovered without a restart


def terminate_server_sessions() -> int:
    """What a restart does to every open session: 'terminating connection due to administrator command'."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            [SERVER_SESSIONS],
        )
        return cursor.fetchone()[0]


async def test_a_postgresql_restart_fails_sends_cleanly_and_the_service_recovers(rig):
    workers = rig.worker_pids()
    terminated = []

    async def restart_postgresql():
        # The servers' sessions are ended by PostgreSQL as in a restart, then nobody can
        # connect for 3 s (the proxy refuses), then it is back.
        terminated.append(await sync_to_async(terminate_server_sessions)())
        await asyncio.sleep(0.2)
        rig.database.cut()
        await asyncio.sleep(3)
        rig.database.restore()

    outcome = await under_load(rig, "PostgreSQL restarted, down 3 s", restart_postgresql)
    assert_whole(outcome)
    assert terminated[0] >= 2  # at least one session per worker was open
    assert rig.worker_pids() == workers  # recovered without a restart
