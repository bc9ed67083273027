"""Each KPI of docs/kpis.md on a hand-made history, and contact records built from real
chats (transfers, conferences, abandoned after an offer)."""

import datetime
import uuid
import zoneinfo

import pytest

from chat import handover
from chat import services as chat
from reports import kpis, services, tables
from reports.models import ContactRecord
from routing import services as routing
from routing.models import PresenceChange, WorkItem
from tests.factories import AgentProfileFactory, QueueFactory, QueueMembershipFactory

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")
DAY = datetime.date(2026, 3, 10)


def at(hour, minute=0, second=0, day=DAY):
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=HELSINKI)


def record(queue, **values):
    values.setdefault("target_seconds", 60)
    return ContactRecord.objects.create(queue=queue, channel="chat", reference=str(uuid.uuid4()), **values)


def presence(agent, state, when):
    change = PresenceChange.objects.create(agent=agent, presence=state)
    PresenceChange.objects.filter(pk=change.pk).update(at=when)


@pytest.mark.django_db
def test_every_kpi_on_a_hand_made_day(roles):
    queue = QueueFactory(name="Housing")
    aino, bo = AgentProfileFactory(), AgentProfileFactory()
    next_day = DAY + datetime.timedelta(days=1)
    record(
        queue,
        agent=aino.user,
        started_at=at(10),
        answered_at=at(10, 0, 30),
        first_response_at=at(10, 0, 50),
        ended_at=at(10, 10, 30),
        rating=5,
        agent_messages=4,
        offered_to_agent=True,
    )
    record(
        queue,
        agent=aino.user,
        started_at=at(10, 1),
        answered_at=at(10, 3),
        first_response_at=at(10, 3, 20),
        ended_at=at(10, 5),
        rating=3,
        agent_messages=2,
        offered_to_agent=True,
        transferred=True,
    )
    record(queue, started_at=at(10, 2), ended_at=at(10, 2, 45), abandoned=True, offered_to_agent=True)
    record(queue, started_at=at(10, 4), ended_at=at(10, 5), abandoned=True)
    # Crosses midnight; closed for the customer's silence ten minutes after their last word.
    record(
        queue,
        agent=bo.user,
        started_at=at(23, 50),
        answered_at=at(23, 50, 10),
        ended_at=at(0, 20, 10, next_day),
        agent_messages=1,
        end_reason="inactivity",
        customer_last_at=at(0, 10, 10, next_day),
        offered_to_agent=True,
    )
    presence(aino, "ready", at(9))
    presence(aino, "offline", at(11))
    presence(bo, "ready", at(23))
    presence(bo, "not_ready", at(1, day=next_day))  # fmt: skip

    window = tables.Filters(date_from=DAY, date_to=next_day, tz=HELSINKI)
    values = {kpi.key: kpi.value for kpi in kpis.kpis(window)}
    assert values == {
        "offered": 5, "answered": 3, "abandoned": 2, "abandoned_after_offer": 1, "abandon_rate": 40.0,
        "answer_time_mean": 53.3,  # (30 + 120 + 10) / 3
        "answer_time_p90": 102.0,  # percentile_cont over 10, 30, 120
        "abandon_wait_mean": 52.5,  # (45 + 60) / 2
        "first_response_mean": 20.0, "first_response_p90": 20.0,
        "handle_time_mean": 840.0,  # (600 + 120 + 1800) / 3
        "service_level": 40.0,  # 2 of 5 offered answered within 60 s
        "csat": 50.0, "csi": 4.0, "rated": 2,
        "replies_per_dialogue": 2.33,  # 7 replies / 3 answered
        "closed_for_silence": 1, "close_after_silence_mean": 600.0,
        "transferred": 1,
        "concurrency": 1.05,  # handled 2,520 s over 2,400 s busy (Aino's two chats overlap)
        "occupancy": 16.7,  # busy 2,400 s of 14,400 s ready
    }  # fmt: skip

    # The first day alone: the chat that started before midnight counts there, clipped at midnight.
    first_day = {kpi.key: kpi.value for kpi in kpis.kpis(tables.Filters(date_from=DAY, date_to=DAY, tz=HELSINKI))}
    assert first_day["offered"] == 5
    assert first_day["concurrency"] == round((720 + 600) / (600 + 600), 2)

    # An agent's own figures only.
    own = {
        k.key: k.value
        for k in kpis.kpis(tables.Filters(date_from=DAY, date_to=next_day, tz=HELSINKI, agent_id=bo.user_id))
    }
    assert (own["offered"], own["answered"], own["occupancy"]) == (1, 1, 25.0)  # 1,800 of 7,200 s


@pytest.mark.django_db
def test_durations_are_real_time_across_a_dst_change(roles):
    queue = QueueFactory(name="Night")
    # 02:50 EET to 04:10 EEST on the night clocks go forward is 20 minutes, not 80.
    record(queue, started_at=datetime.datetime(2026, 3, 29, 2, 50, tzinfo=HELSINKI),
           answered_at=datetime.datetime(2026, 3, 29, 4, 10, tzinfo=HELSINKI), agent=AgentProfileFactory().user,
           ended_at=datetime.datetime(2026, 3, 29, 4, 20, tzinfo=HELSINKI))  # fmt: skip
    window = tables.Filters(date_from=datetime.date(2026, 3, 29), date_to=datetime.date(2026, 3, 29), tz=HELSINKI)
    values = {kpi.key: kpi.value for kpi in kpis.kpis(window)}
    assert (values["answer_time_mean"], values["handle_time_mean"]) == (1200.0, 600.0)


@pytest.mark.django_db
def test_no_contacts_give_empty_figures_not_errors(roles):
    window = tables.Filters(date_from=DAY, date_to=DAY, tz=HELSINKI)
    values = {kpi.key: kpi.value for kpi in kpis.kpis(window)}
    assert values["offered"] == 0
    assert values["service_level"] is None
    assert values["concurrency"] is None
    assert values["occupancy"] is None


@pytest.mark.django_db
def test_records_from_real_chats_with_transfer_conference_and_abandonment(widget, ready_agent):
    def answered():
        conversation, _ = chat.conversation_start(widget=widget, prechat={})
        routing.work_item_pick(agent=ready_agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
        chat.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text="Hei")
        chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Moi")
        return conversation

    olga = QueueMembershipFactory(queue=widget.queue, agent__user__username="olga").agent
    routing.presence_set(agent=olga, presence="ready")
    transferred = answered()
    invitation = handover.invite(
        conversation_id=transferred.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="transfer"
    )
    handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    chat.conversation_end(conversation_id=transferred.pk, ended_by="agent", actor=olga.user)
    conference = answered()
    invitation = handover.invite(
        conversation_id=conference.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="conference"
    )
    handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    chat.conversation_end(conversation_id=conference.pk, ended_by="customer")

    routing.presence_set(agent=olga, presence="offline")
    left_after_offer, _ = chat.conversation_start(widget=widget, prechat={})
    routing.route(queue_ids=[widget.queue_id])  # offered to Aino (the router runs after commit)
    assert WorkItem.objects.get(reference=str(left_after_offer.pk)).state == "offered"
    chat.conversation_end(conversation_id=left_after_offer.pk, ended_by="customer")
    open_chat = answered()  # not ended: no record yet

    assert services.record_ended_conversations() == 3
    assert services.record_ended_conversations() == 0  # idempotent
    by_reference = {r.reference: r for r in ContactRecord.objects.all()}
    first = by_reference[str(transferred.pk)]
    assert (first.agent, first.agents, first.transferred, first.abandoned) == (ready_agent.user, 2, True, False)
    assert (first.customer_messages, first.agent_messages) == (1, 1)
    assert first.first_response_at is not None
    assert first.answered_at <= first.first_response_at
    second = by_reference[str(conference.pk)]
    assert (second.agents, second.transferred) == (2, False)
    third = by_reference[str(left_after_offer.pk)]
    assert (third.abandoned, third.offered_to_agent, third.answered_at, third.agent) == (True, True, None, None)
    assert str(open_chat.pk) not in by_reference

    chat.rating_give(conversation_id=conference.pk, score=5, comment="")
    assert services.record_ended_conversations() == 1  # the later rating is carried in
    assert ContactRecord.objects.get(reference=str(conference.pk)).rating == 5


@pytest.mark.django_db
def test_a_purged_transcript_keeps_its_contact_record_figures(widget, ready_agent):
    from django.core.management import call_command

    from chat.models import Conversation
    from quality import services as quality
    from quality.models import QueueRetention

    conversation, _ = chat.conversation_start(widget=widget, prechat={})
    routing.work_item_pick(agent=ready_agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    chat.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text="Hei")
    chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Moi")
    chat.conversation_end(conversation_id=conversation.pk, ended_by="agent", actor=ready_agent.user)
    services.record_ended_conversations()
    QueueRetention.objects.create(queue=widget.queue, transcript_days=30)
    Conversation.objects.filter(pk=conversation.pk).update(ended_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    assert quality.transcripts_purge() == 1
    call_command("rebuild_contact_records")
    record = ContactRecord.objects.get(reference=str(conversation.pk))
    assert (record.customer_messages, record.agent_messages) == (1, 1)
    assert record.first_response_at is not None
