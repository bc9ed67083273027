"""Supervisors' services: logging agents on and off and setting their presence (S2), listening
in on a chat as a hidden consultant (S1), and the `work` events the live view recounts on."""

import pytest
from django.utils import translation

from chat import handover, selectors, services
from chat.models import Conversation, Message, Participant
from chat.services import ChatError
from contactcenter import realtime
from routing import services as routing
from routing.models import AgentProfile, QueueMembership, WorkItem
from routing.services import RoutingError
from supervision.services import agent_supervise

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def events(captured, group, type_):
    return [event for grp, event in captured if grp == group and event["type"] == type_]


def test_a_supervisor_logs_an_agent_off_and_sets_them_not_ready(agent, supervisor, django_capture_on_commit_callbacks):
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        agent_supervise(supervisor=supervisor, agent_id=agent.pk, logged_on=False, queue_ids=None, presence="not_ready")
    assert not QueueMembership.objects.get(agent=agent).logged_on
    agent.refresh_from_db()
    assert (agent.presence, agent.presence_reason) == ("not_ready", "set by sanna")
    for group in (f"agent.{agent.user_id}", "supervisors"):
        [membership] = events(captured, group, "membership")
        assert (membership["agent_id"], membership["logged_on"]) == (agent.pk, False)
        [presence] = events(captured, group, "presence")
        assert (presence["state"], presence["reason"]) == ("not_ready", "set by sanna")


def test_only_supervisors_and_only_good_values(agent, outsider_agent, supervisor):
    for kwargs, code in [
        ({"supervisor": outsider_agent.user, "agent_id": agent.pk, "presence": "away"}, "forbidden"),
        ({"supervisor": supervisor, "agent_id": 999_999, "presence": "away"}, "not_found"),
        ({"supervisor": supervisor, "agent_id": agent.pk, "presence": "asleep"}, "invalid"),
        ({"supervisor": supervisor, "agent_id": agent.pk, "presence": "away", "reason": "x" * 121}, "invalid"),
    ]:
        with pytest.raises(RoutingError) as raised:
            agent_supervise(**kwargs)
        assert raised.value.code == code
    agent.refresh_from_db()
    assert agent.presence == "offline"


def _answered(widget, agent) -> Conversation:
    conversation, _ = services.conversation_start(widget=widget, prechat={})
    routing.work_item_pick(agent=agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    return conversation


def test_a_supervisor_listens_in_unseen_by_the_customer(widget, agent, supervisor, django_capture_on_commit_callbacks):
    conversation = _answered(widget, agent)
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        listened, joined = handover.monitor_start(conversation_id=conversation.pk, supervisor=supervisor)
    assert (listened.pk, joined) == (conversation.pk, True)
    participant = Participant.objects.get(conversation=conversation, agent=supervisor, left_at__isnull=True)
    assert participant.role == Participant.Role.CONSULTANT
    [note] = events(captured, f"conv.{conversation.pk}.agents", "message")
    assert (note["internal"], note["text"]) == (True, f"{supervisor.get_full_name()} is listening.")
    [opened] = events(captured, f"agent.{supervisor.pk}", "assigned")
    assert opened["role"] == "consultant"
    assert not events(captured, f"conv.{conversation.pk}", "event")  # no "agent_joined" for the customer

    # Again: already in, nothing new.
    assert handover.monitor_start(conversation_id=conversation.pk, supervisor=supervisor)[1] is False

    services.message_post_by_agent(
        conversation_id=conversation.pk, user=supervisor, client_id=None, text="Offer the discount", internal=True
    )
    handover.conversation_leave(conversation_id=conversation.pk, user=supervisor)
    customer_view = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    name = supervisor.get_full_name()
    assert all(name not in str(frame) and "discount" not in str(frame) for frame in customer_view)
    assert [f["event"] for f in customer_view if f["type"] == "event"] == ["queued", "agent_joined"]
    assert [m.text for m in selectors.transcript_lines(conversation_id=conversation.pk)] == list(
        Message.objects.filter(conversation=conversation, internal=False).order_by("seq").values_list("text", flat=True)
    )
    agent_view = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=True)
    assert [f["text"] for f in agent_view if f.get("internal")] == [
        f"{name} is listening.",
        "Offer the discount",
        f"{name} stopped consulting.",
    ]


def test_only_supervisors_listen_and_only_to_open_chats(widget, agent, outsider_agent, supervisor):
    conversation = _answered(widget, agent)
    with pytest.raises(ChatError) as raised:
        handover.monitor_start(conversation_id=conversation.pk, supervisor=outsider_agent.user)
    assert raised.value.code == "forbidden"
    services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    with pytest.raises(ChatError) as raised:
        handover.monitor_start(conversation_id=conversation.pk, supervisor=supervisor)
    assert raised.value.code == "ended"
    assert not Participant.objects.filter(agent__in=[supervisor, outsider_agent.user]).exists()


def test_routing_tells_the_live_view_when_work_moves(widget, ready_agent, django_capture_on_commit_callbacks):
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        conversation, _ = services.conversation_start(widget=widget, prechat={})
    work = events(captured, "supervision.work", "work")
    assert [(e["state"], e["agent_id"]) for e in work] == [("waiting", None), ("offered", ready_agent.pk)]
    item = WorkItem.objects.get(reference=str(conversation.pk))
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        routing.offer_accept(agent=AgentProfile.objects.get(pk=ready_agent.pk), item_id=item.pk)
        services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    work = events(captured, "supervision.work", "work")
    assert [e["state"] for e in work] == ["assigned", "done"]
    assert all(e["queue_id"] == widget.queue_id for e in work)
