"""Capacity per channel (R2) and agent priority per channel (R3), with calls beside chats."""

import pytest
from django.core.exceptions import ValidationError

from chat import services as chat
from chat.services import ChatError
from routing import handlers
from routing import services as routing
from routing.models import Queue, QueueMembership, WorkItem
from routing.services import RoutingError
from tests.factories import AgentProfileFactory, QueueFactory, WidgetFactory
from tests.routing.voice_stand_in import RecordingVoice


@pytest.fixture
def voice():
    recorder = RecordingVoice()
    previous = handlers.register("voice", recorder)
    yield recorder
    handlers.register("voice", previous)


@pytest.fixture
def both_channels(queue):
    Queue.objects.filter(pk=queue.pk).update(channels=["chat", "voice"])
    queue.refresh_from_db()
    return queue


def call(queue, number="1"):
    return routing.work_item_enqueue(channel="voice", reference=f"call-{number}", queue=queue)


def chat_item(widget):
    conversation, _ = chat.conversation_start(widget=widget, prechat={})
    return WorkItem.objects.get(channel="chat", reference=str(conversation.pk))


def state(item):
    item.refresh_from_db()
    return item.state, item.agent_id


@pytest.mark.django_db
def test_an_agent_on_a_call_gets_no_new_chat_until_the_call_ends(
    both_channels, widget, ready_agent, voice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ringing = call(both_channels)
    assert state(ringing) == ("offered", ready_agent.pk)
    assert voice.told == [("offered", "call-1", ready_agent.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        routing.offer_accept(agent=ready_agent, item_id=ringing.pk)
        waiting_chat = chat_item(widget)
    assert state(waiting_chat) == ("waiting", None)  # chat capacity is free, but the call blocks it
    with django_capture_on_commit_callbacks(execute=True):
        routing.work_item_finish(channel="voice", reference="call-1")
    assert state(waiting_chat) == ("offered", ready_agent.pk)


@pytest.mark.django_db
def test_a_full_chat_capacity_leaves_room_for_a_call(
    both_channels, widget, ready_agent, voice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        chats = [chat_item(widget) for _ in range(ready_agent.chat_capacity + 1)]
        ringing = call(both_channels)
    assert [state(item)[0] for item in chats] == ["offered"] * ready_agent.chat_capacity + ["waiting"]
    assert state(ringing) == ("offered", ready_agent.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = call(both_channels, "2")
    assert state(second) == ("waiting", None)  # one call at a time


@pytest.mark.django_db
def test_an_agent_whose_chats_block_calls_gets_the_call_when_the_chats_end(
    both_channels, widget, ready_agent, voice, django_capture_on_commit_callbacks
):
    type(ready_agent).objects.filter(pk=ready_agent.pk).update(chats_block_calls=True)
    with django_capture_on_commit_callbacks(execute=True):
        chatting = chat_item(widget)
        ringing = call(both_channels)
    assert state(ringing) == ("waiting", None)
    with django_capture_on_commit_callbacks(execute=True):
        routing.work_item_finish(channel="chat", reference=chatting.reference)
    assert state(ringing) == ("offered", ready_agent.pk)


@pytest.mark.django_db
def test_an_agent_with_no_call_capacity_is_never_offered_a_call(
    both_channels, ready_agent, voice, django_capture_on_commit_callbacks
):
    type(ready_agent).objects.filter(pk=ready_agent.pk).update(call_capacity=0)
    with django_capture_on_commit_callbacks(execute=True):
        ringing = call(both_channels)
    assert state(ringing) == ("waiting", None)


@pytest.mark.django_db
def test_each_channel_has_its_own_agent_priority(
    both_channels, widget, agent, voice, django_capture_on_commit_callbacks
):
    QueueMembership.objects.filter(agent=agent).update(chat_priority=1, call_priority=2)
    phone_person = AgentProfileFactory()
    QueueMembership.objects.create(agent=phone_person, queue=both_channels, chat_priority=2, call_priority=1)
    for each in (agent, phone_person):
        routing.presence_set(agent=each, presence="ready")
    with django_capture_on_commit_callbacks(execute=True):
        chatting = chat_item(widget)
        ringing = call(both_channels)
    assert state(chatting) == ("offered", agent.pk)
    assert state(ringing) == ("offered", phone_person.pk)


@pytest.mark.django_db
def test_picking_a_chat_while_on_a_call_is_refused(
    both_channels, widget, ready_agent, voice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ringing = call(both_channels)
    with django_capture_on_commit_callbacks(execute=True):
        routing.offer_accept(agent=ready_agent, item_id=ringing.pk)
        waiting_chat = chat_item(widget)
    with pytest.raises(RoutingError) as refused:
        routing.work_item_pick(agent=ready_agent, item_id=waiting_chat.pk)
    assert refused.value.code == "at_capacity"
    assert state(waiting_chat) == ("waiting", None)


@pytest.mark.django_db
def test_a_queue_takes_only_the_channels_it_serves(queue, voice):
    with pytest.raises(RoutingError) as refused:
        call(queue)
    assert refused.value.code == "channel_not_served"
    assert not WorkItem.objects.filter(channel="voice").exists()


@pytest.mark.django_db
def test_widgets_and_overflow_only_reach_chat_queues(queue, roles):
    phones = QueueFactory(name="Phones only", channels=["voice"])
    with pytest.raises(ValidationError) as invalid:
        WidgetFactory.build(key="phones", name="Phones", queue=phones).full_clean()
    assert "queue" in invalid.value.message_dict
    with pytest.raises(ValidationError):
        QueueFactory.build(name="Nothing", channels=[]).full_clean()

    # A full chat queue overflows past a voice-only queue to the next one that serves chat.
    spill = QueueFactory(name="Spill")
    Queue.objects.filter(pk=phones.pk).update(overflow_queue=spill)
    Queue.objects.filter(pk=queue.pk).update(max_waiting=1, overflow_queue=phones)
    queue.refresh_from_db()
    widget = WidgetFactory(queue=queue)
    first, second = chat_item(widget), chat_item(widget)
    assert (first.queue_id, second.queue_id) == (queue.pk, spill.pk)
    Queue.objects.filter(pk=phones.pk).update(overflow_queue=None)
    with pytest.raises(ChatError) as full:
        chat_item(type(widget).objects.get(pk=widget.pk))
    assert full.value.code == "full"
