"""Several processes route, accept, decline, pick, end and log off at random on one
PostgreSQL, over chats and calls; afterwards the event history shows every item assigned at
most once, no agent ever over a capacity, and no chat taken by an agent holding a call."""

import subprocess
import sys
from collections import defaultdict

import pytest

from chat import services as chat
from routing import rules
from routing import services as routing
from routing.models import AgentProfile, QueueMembership, WorkItem, WorkItemEvent
from tests.factories import AgentProfileFactory, QueueFactory, UserFactory, WidgetFactory
from tests.processes import BASE_DIR, process_env
from voice.models import Call

PROCESSES = 4
SECONDS = 8
ITEMS = 240
CALLS = 60
AGENTS = 24


def replay_holdings(events, capacities, channels):
    """Rebuild who held what from the history, checking the caps and the call-blocks-chats
    rule at every step. `capacities`: agent -> capacity group -> slots."""
    holder: dict = {}  # item -> (agent, "offered"|"assigned")
    held = defaultdict(lambda: defaultdict(int))  # agent -> group -> items
    over, chats_during_calls = {}, []
    assignments = defaultdict(int)

    def take(agent, item, state):
        group = rules.capacity_group(channels[item])
        if group == rules.CHATS and held[agent][rules.CALLS]:
            chats_during_calls.append((agent, item))
        held[agent][group] += 1
        if held[agent][group] > capacities[agent][group]:
            over[(agent, group)] = (held[agent][group], capacities[agent][group])
        holder[item] = (agent, state)

    def release(item):
        if item in holder:
            held[holder.pop(item)[0]][rules.capacity_group(channels[item])] -= 1

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
        elif kind == "requeued":
            release(item)
        elif kind == "transferred":
            release(item)
            take(agent, item, "assigned")
        elif kind in ("done", "abandoned"):
            release(item)
    return assignments, over, chats_during_calls, held


@pytest.mark.django_db(transaction=True)
def test_many_processes_never_double_assign_or_exceed_a_cap(roles):
    queues = [QueueFactory(name="Stress A", channels=["chat", "voice"]), QueueFactory(name="Stress B", priority=8)]
    widgets = [WidgetFactory(queue=queue) for queue in queues]
    for n in range(AGENTS):
        agent = AgentProfileFactory(user=UserFactory(username=f"stress-{n}", roles=["Agent"]), chat_capacity=1 + n % 4)
        for queue in queues[: 1 + n % 2]:
            QueueMembership.objects.create(agent=agent, queue=queue, chat_priority=1 + n % 3)
    for n in range(ITEMS):  # nobody ready yet: everything waits
        chat.conversation_start(widget=widgets[n % 2], prechat={})
        if n < CALLS:  # calls waiting in the queue, as after their menu
            call = Call.objects.create(queue=queues[0], state=Call.State.QUEUED)
            routing.work_item_enqueue(channel="voice", reference=str(call.pk), queue=queues[0])
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
    capacities = {
        pk: {rules.CHATS: chats, rules.CALLS: calls}
        for pk, chats, calls in AgentProfile.objects.values_list("pk", "chat_capacity", "call_capacity")
    }
    channels = dict(WorkItem.objects.values_list("pk", "channel"))
    assignments, over, chats_during_calls, held = replay_holdings(events, capacities, channels)
    assert sum(assignments.values()) > ITEMS // 4, outputs  # the test really exercised assignment
    assert sum(assignments[pk] for pk, channel in channels.items() if channel == "voice") > CALLS // 4, outputs
    assert max(assignments.values()) == 1  # never assigned twice
    assert over == {}
    assert chats_during_calls == []
    # The history, the final state and the database's held counters agree.
    holding = WorkItem.objects.filter(state__in=["offered", "assigned"])
    counters = {
        pk: {rules.CHATS: chats, rules.CALLS: calls}
        for pk, chats, calls in AgentProfile.objects.values_list("pk", "chats_held", "calls_held")
    }
    for agent_id in capacities:
        channels_held = list(holding.filter(agent_id=agent_id).values_list("channel", flat=True))
        for group in (rules.CHATS, rules.CALLS):
            actual = sum(1 for channel in channels_held if rules.capacity_group(channel) == group)
            assert held[agent_id][group] == actual
            assert counters[agent_id][group] == actual
