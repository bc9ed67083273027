"""Several processes route, accept, decline, pick, end and log off at random on one
PostgreSQL; afterwards the event history shows every item assigned at most once and no
agent ever over capacity."""

import subprocess
import sys
from collections import defaultdict

import pytest

from chat import services as chat
from routing.models import AgentProfile, QueueMembership, WorkItem, WorkItemEvent
from tests.factories import AgentProfileFactory, QueueFactory, UserFactory, WidgetFactory
from tests.processes import BASE_DIR, process_env

PROCESSES = 4
SECONDS = 8
ITEMS = 240
AGENTS = 24


def replay_holdings(events, capacities):
    """Rebuild who held what from the history, checking the cap at every step."""
    holder: dict = {}  # item -> (agent, "offered"|"assigned")
    held = defaultdict(int)
    peak = defaultdict(int)
    assignments = defaultdict(int)

    def take(agent, item, state):
        held[agent] += 1
        peak[agent] = max(peak[agent], held[agent])
        holder[item] = (agent, state)

    def release(item):
        if item in holder:
            held[holder.pop(item)[0]] -= 1

    for item, kind, agent in events:
        if kind == "offered":
            release(item)
            take(agent, item, "offered")
        elif kind == "accepted":
            assert holder.get(item) == (agent, "offered"), f"{item} accepted without an offer to {agent}"
            holder[item] = (agent, "assigned")
            assignments[item] += 1
        elif kind in ("declined", "expired"):
            assert holder.get(item, (None,))[0] == agent
            release(item)
        elif kind in ("picked", "assigned"):
            if holder.get(item) == (agent, "offered"):
                holder[item] = (agent, "assigned")
            else:
                release(item)
                take(agent, item, "assigned")
            assignments[item] += 1
        elif kind in ("done", "cancelled"):
            release(item)
    over = {agent: (peak[agent], capacities[agent]) for agent in peak if peak[agent] > capacities[agent]}
    return assignments, over, held


@pytest.mark.django_db(transaction=True)
def test_many_processes_never_double_assign_or_exceed_a_cap(roles):
    queues = [QueueFactory(name="Stress A"), QueueFactory(name="Stress B", priority=8)]
    widgets = [WidgetFactory(queue=queue) for queue in queues]
    for n in range(AGENTS):
        agent = AgentProfileFactory(user=UserFactory(username=f"stress-{n}", roles=["Agent"]), chat_capacity=1 + n % 4)
        for queue in queues[: 1 + n % 2]:
            QueueMembership.objects.create(agent=agent, queue=queue, chat_priority=1 + n % 3)
    for n in range(ITEMS):  # nobody ready yet: everything waits
        chat.conversation_start(widget=widgets[n % 2], prechat={})
    AgentProfile.objects.update(presence="ready")

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.routing.stress_worker", str(SECONDS), str(seed)],
            cwd=BASE_DIR,
            env=process_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in range(PROCESSES)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * PROCESSES, "\n".join(outputs)

    events = list(WorkItemEvent.objects.order_by("at", "pk").values_list("work_item_id", "kind", "agent_id"))
    capacities = dict(AgentProfile.objects.values_list("pk", "chat_capacity"))
    assignments, over, held = replay_holdings(events, capacities)
    assert sum(assignments.values()) > ITEMS // 4, outputs  # the test really exercised assignment
    assert max(assignments.values()) == 1  # never assigned twice
    assert over == {}
    # The history and the final state agree.
    for agent_id in capacities:
        actual = WorkItem.objects.filter(agent_id=agent_id, state__in=["offered", "assigned"]).count()
        assert held[agent_id] == actual
