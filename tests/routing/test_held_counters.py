"""The agents' held counters, kept by database triggers, and the router that reads only the
best few free agents by them (routing/locks.py, migration 0009)."""

import datetime
import random
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from routing import rules
from routing import services as routing
from routing.models import (
    AgentProfile,
    AgentSkill,
    Channel,
    QueueMembership,
    QueueSkill,
    Skill,
    WorkItem,
    WorkItemEvent,
)
from routing.selectors import candidate
from tests.factories import AgentProfileFactory, QueueFactory, UserFactory, passwordless_user


def counted() -> dict[int, dict[str, int]]:
    """Each agent's work by capacity group, counted from the work items themselves."""
    held = {pk: {rules.CHATS: 0, rules.CALLS: 0} for pk in AgentProfile.objects.values_list("pk", flat=True)}
    for agent_id, channel in WorkItem.objects.filter(state__in=WorkItem.HOLDING_STATES).values_list(
        "agent_id", "channel"
    ):
        held[agent_id][rules.capacity_group(channel)] += 1
    return held


def counters() -> dict[int, dict[str, int]]:
    return {
        pk: {rules.CHATS: chats, rules.CALLS: calls}
        for pk, chats, calls in AgentProfile.objects.values_list("pk", "chats_held", "calls_held")
    }


@pytest.mark.django_db
def test_the_counters_follow_every_change_of_a_work_item(roles, stand_ins):
    queue = QueueFactory(channels=list(Channel.values))
    first, second = AgentProfileFactory(), AgentProfileFactory()
    now = timezone.now()
    items = {
        channel: WorkItem.objects.create(channel=channel, reference=channel, queue=queue, enqueued_at=now)
        for channel in Channel.values
    }
    assert counters() == counted()
    for item in items.values():
        item.state, item.agent = WorkItem.State.OFFERED, first
        item.save()
    assert counters()[first.pk] == {rules.CHATS: 1, rules.CALLS: 2}  # every channel has its group
    items["chat"].state = WorkItem.State.ASSIGNED
    items["chat"].save(update_fields=["state"])  # offered to assigned: still held
    assert counters() == counted()
    WorkItem.objects.filter(pk=items["voice"].pk).update(agent=second)  # handed to a colleague
    assert counters() == counted()
    assert counters()[second.pk] == {rules.CHATS: 0, rules.CALLS: 1}
    WorkItem.objects.filter(pk=items["callback"].pk).update(state=WorkItem.State.WAITING, agent=None)
    items["chat"].state = WorkItem.State.DONE
    items["chat"].save(update_fields=["state"])
    assert (
        counters()
        == counted()
        == {
            first.pk: {rules.CHATS: 0, rules.CALLS: 0},
            second.pk: {rules.CHATS: 0, rules.CALLS: 1},
        }
    )
    WorkItem.objects.create(
        channel="chat", reference="direct", queue=queue, enqueued_at=now, state=WorkItem.State.ASSIGNED, agent=first
    )
    WorkItem.objects.filter(pk=items["voice"].pk).delete()
    assert counters() == counted()
    assert counters()[first.pk][rules.CHATS] == 1


@pytest.mark.django_db
def test_only_the_work_items_change_the_counters(roles):
    queue = QueueFactory()
    agent = AgentProfileFactory()
    stale = AgentProfile.objects.get(pk=agent.pk)
    WorkItem.objects.create(
        channel="chat", reference="x", queue=queue, enqueued_at=timezone.now(), state="assigned", agent=agent
    )
    stale.chat_capacity = 5
    stale.save()  # a whole-row save from an instance read before the work came
    AgentProfile.objects.filter(pk=agent.pk).update(chats_held=7, calls_held=1)
    agent.refresh_from_db()
    assert (agent.chat_capacity, agent.chats_held, agent.calls_held) == (5, 1, 0)
    assert AgentProfileFactory(user=UserFactory(), chats_held=4).chats_held == 4  # the instance, not the row
    assert sorted(AgentProfile.objects.values_list("chats_held", flat=True)) == [0, 1]


def reference_route(queue_ids: list[int]) -> dict[int, int]:
    """What rules.py decides over every ready agent, read the slow way: the router must agree."""
    now = timezone.now()
    items = list(
        WorkItem.objects.filter(queue_id__in=queue_ids, state="waiting").select_related("queue")[: routing.ROUTE_BATCH]
    )
    held = counted()
    pool = []
    for agent in AgentProfile.objects.filter(presence="ready").order_by("pk"):
        member = agent.memberships.filter(queue_id__in=queue_ids, logged_on=True)
        if not member.exists():
            continue
        option = candidate(agent, held=held[agent.pk])
        for membership in member:
            option.memberships[membership.queue_id] = {rules.CHATS: membership.chat_priority, rules.CALLS: 1}
        option.skills = dict(AgentSkill.objects.filter(agent=agent).values_list("skill_id", "level"))
        option.refused = set(
            WorkItemEvent.objects.filter(agent=agent, kind__in=["declined", "expired"]).values_list(
                "work_item_id", flat=True
            )
        )
        pool.append(option)
    required = {}
    for queue_id, skill_id, level in QueueSkill.objects.values_list("queue_id", "skill_id", "min_level"):
        required.setdefault(queue_id, {})[skill_id] = level
    works = {item.pk: routing.work_of(item) for item in items}
    chosen = {}
    for work in sorted(works.values(), key=lambda work: rules.work_order_key(work, now)):
        best = rules.best_agent(pool, work, required.get(work.queue_id, {}))
        if best is not None:
            best.take(work.group)
            best.last_assigned_at = now
            chosen[work.id] = best.id
    return chosen


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(6))
def test_the_router_picks_as_if_it_had_read_every_ready_agent(roles, stand_ins, seed):
    """Ties, loads, skills, two queues, refusals: the few agents the router reads hold the one
    the rules pick among all of them."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    advice, housing, elsewhere = QueueFactory(priority=5), QueueFactory(priority=7), QueueFactory()
    languages = Skill.objects.create(name=f"Finnish {seed}")
    QueueSkill.objects.create(queue=housing, skill=languages, min_level=rng.choice([1, 4]))
    now = timezone.now()
    moments = [None, now - datetime.timedelta(minutes=5), now - datetime.timedelta(minutes=1)]
    for n in range(40):
        agent = AgentProfileFactory(
            user=passwordless_user(f"held-{seed}-{n}"),
            chat_capacity=rng.randint(1, 4),
            presence=rng.choice(["ready"] * 5 + ["not_ready"]),
            last_assigned_at=rng.choice(moments),
        )
        for queue in (advice, housing):
            if rng.random() < 0.7:
                QueueMembership.objects.create(
                    agent=agent, queue=queue, chat_priority=rng.randint(1, 2), logged_on=rng.random() < 0.9
                )
        if rng.random() < 0.6:
            AgentSkill.objects.create(agent=agent, skill=languages, level=rng.randint(1, 9))
        for k in range(rng.randint(0, agent.chat_capacity)):  # work they already hold
            WorkItem.objects.create(
                channel="chat", reference=f"held-{n}-{k}", queue=elsewhere, enqueued_at=now,
                state=rng.choice(["offered", "assigned"]), agent=agent,
            )  # fmt: skip
    waiting = [
        WorkItem.objects.create(
            channel="chat",
            reference=f"waiting-{n}",
            queue=rng.choice([advice, housing]),
            priority=rng.randint(0, 2),
            enqueued_at=now - datetime.timedelta(seconds=wait),
        )
        for n, wait in enumerate(rng.sample(range(120), 30))
    ]
    agents = list(AgentProfile.objects.all())
    for item in rng.sample(waiting, 8):
        for agent in rng.sample(agents, 3):
            WorkItemEvent.objects.create(work_item=item, kind=rng.choice(["declined", "expired"]), agent=agent)

    expected = reference_route([advice.pk, housing.pk])
    assert len(expected) >= 10, "the test must place work"
    assert routing.route(queue_ids=[advice.pk, housing.pk]) == len(expected)
    placed = dict(WorkItem.objects.filter(pk__in=list(expected)).values_list("pk", "agent_id"))
    assert placed == expected
    assert counters() == counted()
    capacities = dict(AgentProfile.objects.values_list("pk", "chat_capacity"))
    assert all(held[rules.CHATS] <= capacities[pk] for pk, held in counters().items())


def unlocked_agents() -> int:
    """Agents another connection could lock now."""
    result = []

    def count() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM (SELECT FROM routing_agentprofile FOR UPDATE SKIP LOCKED) free")
                result.append(cursor.fetchone()[0])
        finally:
            connection.close()

    thread = threading.Thread(target=count)
    thread.start()
    thread.join()
    return result[0]


@pytest.mark.django_db(transaction=True)
def test_a_route_locks_only_the_agents_it_may_need(roles, stand_ins):
    """Two routers of one busy queue used to take turns, each locking every ready agent."""
    queue = QueueFactory()
    for n in range(60):
        QueueMembership.objects.create(
            agent=AgentProfileFactory(user=passwordless_user(f"many-{n}"), presence="ready"), queue=queue
        )
    for n in range(3):
        WorkItem.objects.create(channel="chat", reference=f"one-{n}", queue=queue, enqueued_at=timezone.now())
    with transaction.atomic():
        assert routing.route(queue_ids=[queue.pk]) == 3
        assert unlocked_agents() == 60 - 3
    assert unlocked_agents() == 60
