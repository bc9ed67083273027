"""Offers, accept/decline/expiry, manual pick and capacity; safe under concurrency."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from chat import services as chat
from routing import services as routing
from routing.models import AgentProfile, Queue, WorkItem, WorkItemEvent
from routing.services import RoutingError
from tests.factories import QueueMembershipFactory


def start(widget):
    conversation, _ = chat.conversation_start(widget=widget, prechat={})
    return WorkItem.objects.get(reference=str(conversation.pk))


@pytest.mark.django_db
def test_only_ready_logged_on_agents_get_offers(widget, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = start(widget)
    item.refresh_from_db()
    assert item.state == WorkItem.State.WAITING  # agent not ready yet
    with django_capture_on_commit_callbacks(execute=True):
        routing.queue_log_on(agent=agent, logged_on=False)
        routing.presence_set(agent=agent, presence="ready")
    item.refresh_from_db()
    assert item.state == WorkItem.State.WAITING  # ready but logged off
    with django_capture_on_commit_callbacks(execute=True):
        routing.queue_log_on(agent=agent, logged_on=True)
    item.refresh_from_db()
    assert (item.state, item.agent) == (WorkItem.State.OFFERED, agent)


@pytest.mark.django_db
def test_capacity_caps_offers_and_the_freest_agent_goes_first(widget, ready_agent, django_capture_on_commit_callbacks):
    other = QueueMembershipFactory(queue=widget.queue, agent__chat_capacity=2).agent
    routing.presence_set(agent=other, presence="ready")
    with django_capture_on_commit_callbacks(execute=True):
        items = [start(widget) for _ in range(6)]
    held = {agent.pk: WorkItem.objects.filter(agent=agent).count() for agent in (ready_agent, other)}
    assert held == {ready_agent.pk: 3, other.pk: 2}
    waiting = [i for i in items if WorkItem.objects.get(pk=i.pk).state == WorkItem.State.WAITING]
    assert len(waiting) == 1


@pytest.mark.django_db
def test_a_declined_offer_goes_to_another_agent(widget, ready_agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = start(widget)
    other = QueueMembershipFactory(queue=widget.queue).agent
    routing.presence_set(agent=other, presence="ready")
    with django_capture_on_commit_callbacks(execute=True):
        routing.offer_decline(agent=ready_agent, item_id=item.pk)
    item.refresh_from_db()
    assert (item.state, item.agent) == (WorkItem.State.OFFERED, other)
    with pytest.raises(RoutingError) as error:
        routing.offer_accept(agent=ready_agent, item_id=item.pk)
    assert error.value.code == "offer_gone"


@pytest.mark.django_db
def test_an_unanswered_offer_expires_and_the_silent_agent_is_set_not_ready(
    widget, ready_agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        item = start(widget)
    later = timezone.now() + datetime.timedelta(seconds=widget.queue.offer_timeout_seconds + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert routing.offers_expire(now=later) == 1
    item.refresh_from_db()
    ready_agent.refresh_from_db()
    assert item.state == WorkItem.State.WAITING
    assert (ready_agent.presence, ready_agent.presence_reason) == ("not_ready", "missed offers")
    assert list(WorkItemEvent.objects.filter(work_item=item).values_list("kind", flat=True)) == [
        "enqueued",
        "offered",
        "expired",
    ]


@pytest.mark.django_db
def test_direct_assignment_skips_the_offer(widget, ready_agent, django_capture_on_commit_callbacks):
    Queue.objects.filter(pk=widget.queue_id).update(assignment_mode="direct")
    widget.queue.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        item = start(widget)
    item.refresh_from_db()
    assert (item.state, item.agent) == (WorkItem.State.ASSIGNED, ready_agent)


@pytest.mark.django_db
def test_pick_respects_queues_and_capacity(widget, agent, outsider_agent):
    item = start(widget)
    with pytest.raises(RoutingError) as error:
        routing.work_item_pick(
            agent=outsider_agent, item_id=item.pk, allowed_queue_ids=[outsider_agent.queues.get().pk]
        )
    assert error.value.code == "not_found"
    AgentProfile.objects.filter(pk=agent.pk).update(chat_capacity=1)
    agent.refresh_from_db()
    routing.work_item_pick(agent=agent, item_id=item.pk, allowed_queue_ids=[widget.queue_id])
    second = start(widget)
    with pytest.raises(RoutingError) as error:
        routing.work_item_pick(agent=agent, item_id=second.pk, allowed_queue_ids=[widget.queue_id])
    assert error.value.code == "at_capacity"


@pytest.mark.django_db(transaction=True)
def test_two_agents_picking_the_same_chat_at_once_never_both_get_it(roles, widget):
    agents = [QueueMembershipFactory(queue=widget.queue).agent for _ in range(8)]
    items = [start(widget) for _ in range(3)]
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(len(agents))

    def pick(agent, item):
        try:
            barrier.wait()
            routing.work_item_pick(agent=agent, item_id=item.pk)
            results.append((agent.pk, "ok"))
        except RoutingError as error:
            results.append((agent.pk, error.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=pick, args=(agent, items[n % 3])) for n, agent in enumerate(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for _, code in results).count("ok") == 3
    for item in items:
        item.refresh_from_db()
        assert item.state == WorkItem.State.ASSIGNED
    assert WorkItemEvent.objects.filter(kind="picked").count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_routers_never_exceed_capacity_or_double_assign(roles, widget):
    agents = [QueueMembershipFactory(queue=widget.queue, agent__chat_capacity=2).agent for _ in range(4)]
    items = [start(widget) for _ in range(20)]  # nobody is ready yet: all wait
    AgentProfile.objects.filter(pk__in=[a.pk for a in agents]).update(presence="ready")
    barrier = threading.Barrier(6)

    def run():
        try:
            barrier.wait()
            for _ in range(3):
                routing.route(queue_ids=[widget.queue_id])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = {a.pk: WorkItem.objects.filter(agent=a, state="offered").count() for a in agents}
    assert held == {a.pk: 2 for a in agents}
    assert WorkItem.objects.filter(pk__in=[i.pk for i in items], state="offered").count() == 8
    assert WorkItemEvent.objects.filter(kind="offered").count() == 8


@pytest.mark.django_db
def test_skills_decide_who_gets_a_queues_work(widget, ready_agent, django_capture_on_commit_callbacks):
    from routing.models import AgentSkill, QueueSkill, Skill

    swedish = Skill.objects.create(name="Swedish")
    QueueSkill.objects.create(queue=widget.queue, skill=swedish, min_level=5)
    speaker = QueueMembershipFactory(queue=widget.queue).agent
    AgentSkill.objects.create(agent=speaker, skill=swedish, level=7)
    AgentSkill.objects.create(agent=ready_agent, skill=swedish, level=3)
    routing.presence_set(agent=speaker, presence="ready")
    with django_capture_on_commit_callbacks(execute=True):
        items = [start(widget) for _ in range(4)]
    for item in items:
        item.refresh_from_db()
    assert [item.agent_id for item in items] == [speaker.pk, speaker.pk, speaker.pk, None]


@pytest.mark.django_db
def test_a_freed_agent_takes_the_most_urgent_work_across_their_queues(roles, django_capture_on_commit_callbacks):
    from tests.factories import QueueFactory, WidgetFactory

    relaxed = QueueFactory(name="Relaxed", service_level_target_seconds=600)
    tight = QueueFactory(name="Tight", service_level_target_seconds=20)
    membership = QueueMembershipFactory(queue=relaxed, agent__chat_capacity=1)
    agent = membership.agent
    QueueMembershipFactory(queue=tight, agent=agent)
    old = start(WidgetFactory(queue=relaxed))
    new = start(WidgetFactory(queue=tight))
    WorkItem.objects.filter(pk=old.pk).update(enqueued_at=timezone.now() - datetime.timedelta(seconds=120))
    WorkItem.objects.filter(pk=new.pk).update(enqueued_at=timezone.now() - datetime.timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        routing.presence_set(agent=agent, presence="ready")
    # 30 s of a 20 s target (150 %) outranks 120 s of a 600 s target (20 %).
    assert WorkItem.objects.get(pk=new.pk).agent == agent
    assert WorkItem.objects.get(pk=old.pk).state == "waiting"


@pytest.mark.django_db
def test_a_full_queue_overflows_and_then_refuses(widget, roles):
    from chat.services import ChatError
    from tests.factories import QueueFactory

    overflow = QueueFactory(name="Overflow", max_waiting=1)
    Queue.objects.filter(pk=widget.queue_id).update(max_waiting=2, overflow_queue=overflow)
    widget.queue.refresh_from_db()
    queues = [chat.conversation_start(widget=widget, prechat={})[0].queue.name for _ in range(3)]
    assert queues == ["Housing advice", "Housing advice", "Overflow"]
    with pytest.raises(ChatError) as error:
        chat.conversation_start(widget=widget, prechat={})
    assert error.value.code == "full"


@pytest.mark.django_db
def test_not_ready_only_after_n_missed_offers_in_a_row(
    widget, ready_agent, settings, django_capture_on_commit_callbacks
):
    settings.CC_MISSED_OFFERS_BEFORE_NOT_READY = 2
    with django_capture_on_commit_callbacks(execute=True):
        start(widget)
    later = timezone.now() + datetime.timedelta(seconds=widget.queue.offer_timeout_seconds + 1)
    with django_capture_on_commit_callbacks(execute=True):
        routing.offers_expire(now=later)
    ready_agent.refresh_from_db()
    assert (ready_agent.presence, ready_agent.missed_offers) == ("ready", 1)
    # It is refused by this agent now; a second chat is offered and missed too.
    with django_capture_on_commit_callbacks(execute=True):
        start(widget)
    with django_capture_on_commit_callbacks(execute=True):
        routing.offers_expire(now=later + datetime.timedelta(seconds=60))
    ready_agent.refresh_from_db()
    assert (ready_agent.presence, ready_agent.presence_reason) == ("not_ready", "missed offers")


@pytest.mark.django_db
def test_wrap_up_after_a_chat_holds_new_work_until_it_is_over(widget, ready_agent, django_capture_on_commit_callbacks):
    AgentProfile.objects.filter(pk=ready_agent.pk).update(wrap_up_seconds=30, chat_capacity=1)
    ready_agent.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        first = start(widget)
    routing.offer_accept(agent=ready_agent, item_id=first.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = start(widget)  # the agent is full: it waits
        chat.conversation_end(conversation_id=first.reference, ended_by="agent", actor=ready_agent.user)
    ready_agent.refresh_from_db()
    second.refresh_from_db()
    assert ready_agent.presence == "wrap_up"
    assert second.state == WorkItem.State.WAITING  # a free slot, but the agent is writing notes

    assert routing.wrap_ups_end(now=timezone.now() + datetime.timedelta(seconds=10)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert routing.wrap_ups_end(now=timezone.now() + datetime.timedelta(seconds=31)) == 1
    ready_agent.refresh_from_db()
    second.refresh_from_db()
    assert ready_agent.presence == "ready"
    assert (second.state, second.agent) == (WorkItem.State.OFFERED, ready_agent)


@pytest.mark.django_db
def test_the_beat_sweep_routes_what_the_triggers_missed(widget, agent):
    item = start(widget)  # nobody ready: it waits
    AgentProfile.objects.filter(pk=agent.pk).update(presence="ready")  # no trigger ran
    assert routing.route_all() == 1
    item.refresh_from_db()
    assert (item.state, item.agent) == (WorkItem.State.OFFERED, agent)


@pytest.mark.django_db
def test_an_agent_gone_offline_loses_pending_offers_at_once(widget, ready_agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = start(widget)
    assert WorkItem.objects.get(pk=item.pk).state == WorkItem.State.OFFERED
    assert routing.agent_offline_if_no_socket(agent_id=ready_agent.pk)  # no socket is registered
    item.refresh_from_db()
    ready_agent.refresh_from_db()
    assert (item.state, item.agent) == (WorkItem.State.WAITING, None)
    assert ready_agent.presence == "offline"
