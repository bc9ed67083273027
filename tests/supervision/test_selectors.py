"""The supervisor's overview (S1) on real PostgreSQL: figures per queue and per agent, the
service level of today in each queue's own time zone, and a query count that does not grow
with the number of agents."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services as chat
from routing import services as routing
from routing.models import WorkItem
from supervision.selectors import overview
from tests.factories import AgentProfileFactory, QueueFactory, QueueMembershipFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# 12:00 UTC on Monday 10 March 2025: 14:00 in Helsinki; 08:00 in New York (summer time
# began there the day before), whose day began at 04:00 UTC.
NOW = datetime.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 10) -> datetime.datetime:
    return datetime.datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def item(queue, state, enqueued_at, *, assigned_at=None, agent=None, channel="chat") -> WorkItem:
    return WorkItem.objects.create(
        channel=channel,
        reference=str(uuid.uuid4()),
        queue=queue,
        state=state,
        enqueued_at=enqueued_at,
        assigned_at=assigned_at,
        agent=agent,
        finished_at=enqueued_at if state in ("done", "abandoned") else None,
    )


def by_id(rows, pk):
    return next(row for row in rows if row["id"] == pk)


def test_service_level_of_today_counts_from_midnight_in_each_queues_time_zone(roles):
    helsinki = QueueFactory(name="Helsinki", time_zone="Europe/Helsinki", service_level_target_seconds=60)
    new_york = QueueFactory(name="New York", time_zone="America/New_York", service_level_target_seconds=30)
    aino = AgentProfileFactory(user__first_name="Aino")
    for queue in (helsinki, new_york):
        # 03:30 UTC: today in Helsinki (05:30), yesterday in New York (23:30).
        item(queue, "done", at(3, 30), assigned_at=at(3, 30) + datetime.timedelta(seconds=20))
        # Yesterday everywhere: never counted.
        item(queue, "done", at(20, 0, day=9), assigned_at=at(20, 0, day=9))
        item(queue, "abandoned", at(19, 0, day=9))
    # Today in both: answered within (10 s) and outside (90 s) both targets, an abandoned
    # one, a late one still waiting, and one still within its target (not counted yet).
    for queue in (helsinki, new_york):
        item(queue, "done", at(9), assigned_at=at(9) + datetime.timedelta(seconds=10), agent=aino)
        item(queue, "done", at(10), assigned_at=at(10) + datetime.timedelta(seconds=90), agent=aino)
        item(queue, "abandoned", at(11))
        item(queue, "waiting", NOW - datetime.timedelta(minutes=5))
        item(queue, "waiting", NOW - datetime.timedelta(seconds=5))
    # 45 s: within Helsinki's 60 s, outside New York's 30 s.
    item(helsinki, "assigned", at(11, 30), assigned_at=at(11, 30) + datetime.timedelta(seconds=45), agent=aino)
    item(new_york, "assigned", at(11, 30), assigned_at=at(11, 30) + datetime.timedelta(seconds=45), agent=aino)

    queues = overview(now=NOW)["queues"]

    hel = by_id(queues, helsinki.pk)
    # Counted: the 03:30 one (within), 09:00 (within), 10:00 (outside), 11:30 (within),
    # the abandoned and the late waiting one = 6, of which 3 within.
    assert (hel["offered_today"], hel["answered_within_target_today"]) == (6, 3)
    assert (hel["answered_today"], hel["abandoned_today"]) == (4, 1)
    assert hel["service_level_today"] == 0.5
    ny = by_id(queues, new_york.pk)
    # The 03:30 one was yesterday in New York; 11:30 took 45 s, over its 30 s target.
    assert (ny["offered_today"], ny["answered_within_target_today"]) == (5, 1)
    assert (ny["answered_today"], ny["abandoned_today"]) == (3, 1)
    assert ny["service_level_today"] == 0.2
    for row in (hel, ny):
        assert (row["waiting"], row["offered"], row["ongoing"]) == (2, 0, 1)
        assert row["longest_wait_seconds"] == 300
        assert row["oldest_since"] == (NOW - datetime.timedelta(minutes=5)).isoformat()


def test_nothing_offered_today_is_no_service_level(queue):
    item(queue, "done", at(8, day=1), assigned_at=at(8, day=1))
    [row] = overview(now=NOW)["queues"]
    assert row["service_level_today"] is None
    assert (row["offered_today"], row["waiting"], row["longest_wait_seconds"], row["oldest_since"]) == (0, 0, 0, None)


def test_queue_staffing_and_every_agents_state_work_and_chats(widget, queue, agent, outsider_agent, supervisor):
    other = QueueFactory(name="Rent arrears")
    busy = QueueMembershipFactory(queue=queue, agent__user__username="bea", agent__user__first_name="Bea").agent
    QueueMembershipFactory(queue=other, agent=busy, logged_on=False)
    idle = QueueMembershipFactory(queue=queue, agent__user__username="cid", agent__user__first_name="Cid").agent
    QueueMembershipFactory(queue=queue, agent__user__username="dan", agent__user__first_name="Dan")  # offline
    gone = QueueMembershipFactory(queue=queue, agent__user__username="eve", agent__user__is_active=False).agent
    for profile in (agent, busy, idle, gone):
        routing.presence_set(agent=profile, presence="ready")
    routing.presence_set(agent=idle, presence="not_ready", reason="missed offers")
    idle.missed_offers = 2
    idle.save(update_fields=["missed_offers"])

    # Bea holds two chats (one answered by hand, one offered) and a call.
    answered, _ = chat.conversation_start(widget=widget, prechat={})
    answered.contact.name = "Kaisa"
    answered.contact.save(update_fields=["name"])
    routing.work_item_pick(agent=busy, item_id=WorkItem.objects.get(reference=str(answered.pk)).pk)
    offered, _ = chat.conversation_start(widget=widget, prechat={})
    WorkItem.objects.filter(reference=str(offered.pk)).update(state="offered", agent=busy)
    voice = QueueFactory(name="Phone", channels=["voice"])
    item(voice, "assigned", timezone.now(), assigned_at=timezone.now(), agent=busy, channel="voice")
    waiting, _ = chat.conversation_start(widget=widget, prechat={})

    data = overview()
    row = by_id(data["queues"], queue.pk)
    # Present and logged on: Aino, Bea, Cid (Dan is offline; Eve's account is closed).
    assert (row["agents_logged_on"], row["agents_ready"], row["agents_busy"]) == (3, 2, 1)
    assert (row["waiting"], row["offered"], row["ongoing"]) == (1, 1, 1)
    assert row["oldest_since"] is not None

    agents = {a["username"]: a for a in data["agents"]}
    assert "eve" not in agents
    assert {"aino", "bea", "cid", "dan", "olli", "sanna"} <= set(agents)
    bea = agents["bea"]
    assert (bea["presence"], bea["chats"], bea["calls"], bea["offers"]) == ("ready", 2, 1, 1)
    assert (bea["chat_capacity"], bea["call_capacity"]) == (3, 1)
    assert bea["queues"] == [{"id": queue.pk, "logged_on": True}, {"id": other.pk, "logged_on": False}]
    assert bea["conversations"] == [
        {
            "conversation_id": str(answered.pk),
            "role": "agent",
            "queue_id": queue.pk,
            "customer": "Kaisa",
            "started_at": answered.created_at.isoformat(),
        }
    ]
    cid = agents["cid"]
    assert (cid["presence"], cid["reason"], cid["missed_offers"]) == ("not_ready", "missed offers", 2)
    assert (cid["chats"], cid["conversations"]) == (0, [])
    assert agents["dan"]["presence"] == "offline"
    assert agents["aino"]["since"] == type(agent).objects.get(pk=agent.pk).presence_since.isoformat()
    assert str(waiting.pk) not in {c["conversation_id"] for a in data["agents"] for c in a["conversations"]}


def test_the_overview_costs_the_same_few_queries_for_many_agents(widget, queue):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            overview()
        return len(captured.captured_queries)

    few = queries()
    queues = [QueueFactory() for _ in range(5)]
    agents = []
    for n in range(40):
        membership = QueueMembershipFactory(queue=queues[n % 5])
        QueueMembershipFactory(queue=queue, agent=membership.agent)
        routing.presence_set(agent=membership.agent, presence="ready")
        agents.append(membership.agent)
    for agent in agents[:5]:
        conversation, _ = chat.conversation_start(widget=widget, prechat={})
        routing.work_item_pick(agent=agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    assert queries() == few == 8
