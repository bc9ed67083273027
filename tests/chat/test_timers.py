"""Chat's clocks (chat/timers.py): a silent customer is warned, then the chat closes (W11); a
waiting customer gets one automatic reply with their place in the queue (X1)."""

import datetime
import threading
import uuid

import polib
import pytest
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext

from chat import services, timers
from chat.models import Conversation, ConversationEvent, Message
from contactcenter import realtime
from routing import services as routing
from routing.models import WorkItem
from tests.factories import QueueFactory, QueueMembershipFactory, WidgetFactory

WARNING = "Are you still there? This chat will close soon if we hear nothing from you."
CLOSED = "This chat was closed because we did not hear from you. You are welcome to start a new chat."
AUTO_REPLY = "Thank you for waiting. All our agents are busy; you are number %(position)s in the queue."


def seconds(n: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


def start(widget, **kwargs) -> Conversation:
    conversation, _ = services.conversation_start(widget=widget, prechat={}, **kwargs)
    return conversation


def answered(widget, agent, **kwargs) -> Conversation:
    """A chat the agent has taken: active, silence counted from now."""
    conversation = start(widget, **kwargs)
    routing.work_item_pick(agent=agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE
    return conversation


def system_texts(conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, author_role=Message.Role.SYSTEM).values_list(
            "text", flat=True
        )
    )


def post(conversation, client_id=None):
    return services.message_post_by_customer(
        conversation_id=conversation.pk, client_id=client_id or str(uuid.uuid4()), text="Still here"
    )


@pytest.fixture
def silent_queue(queue):
    queue.inactivity_warning_seconds, queue.inactivity_close_seconds = 60, 120
    queue.save()
    return queue


@pytest.fixture
def finnish_catalogue(settings, tmp_path):
    """Finnish for the timers' texts (the shipped catalogue may not have them yet), so a test
    can tell the customer's language was used and not just the English msgid."""
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    catalogue.append(polib.POEntry(msgid=WARNING, msgstr="Oletko vielä siellä?"))
    catalogue.append(polib.POEntry(msgid=AUTO_REPLY, msgstr="Kiitos odottamisesta. Olet jonossa sijalla %(position)s."))
    (tmp_path / "fi" / "LC_MESSAGES").mkdir(parents=True)
    catalogue.save_as_mofile(str(tmp_path / "fi" / "LC_MESSAGES" / "django.mo"))
    settings.LOCALE_PATHS = [tmp_path, *settings.LOCALE_PATHS]  # resets Django's translation cache


# --- silent customers (W11) -------------------------------------------------------------


@pytest.mark.django_db
def test_a_silent_customer_is_warned_once_then_the_chat_closes(
    widget, silent_queue, agent, django_capture_on_commit_callbacks
):
    conversation = answered(widget, agent)
    answered_at = conversation.assigned_at
    conv_group = f"conv.{conversation.pk}"

    assert timers.conversations_watch_inactivity(now=answered_at + seconds(59)) == {"warned": 0, "closed": 0}
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        assert timers.conversations_watch_inactivity(now=answered_at + seconds(60)) == {"warned": 1, "closed": 0}
    [warning] = [event for group, event in captured if group == conv_group and event["type"] == "message"]
    assert (warning["author"]["role"], warning["text"]) == ("system", WARNING)
    conversation.refresh_from_db()
    assert conversation.inactivity_warned_at == answered_at + seconds(60)

    # Once per silence: later sweeps before the close time say nothing more.
    assert timers.conversations_watch_inactivity(now=answered_at + seconds(119)) == {"warned": 0, "closed": 0}
    assert system_texts(conversation).count(WARNING) == 1

    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        assert timers.conversations_watch_inactivity(now=answered_at + seconds(120)) == {"warned": 0, "closed": 1}
    told, ended = [event for group, event in captured if group == conv_group]
    assert (told["type"], told["author"]["role"], told["text"]) == ("message", "system", CLOSED)
    assert (ended["event"], ended["data"]) == ("ended", {"by": "system", "reason": "inactivity"})
    assert ended["seq"] == told["seq"] + 1
    conversation.refresh_from_db()
    assert (conversation.state, conversation.ended_by, conversation.end_reason) == ("ended", "system", "inactivity")
    assert WorkItem.objects.get(reference=str(conversation.pk)).state == WorkItem.State.DONE
    assert timers.conversations_watch_inactivity(now=answered_at + seconds(600)) == {"warned": 0, "closed": 0}


@pytest.mark.django_db
def test_a_customer_message_resets_the_clock_and_a_resend_does_not(widget, silent_queue, agent):
    conversation = answered(widget, agent)
    client_id = str(uuid.uuid4())
    message, created = post(conversation, client_id)
    assert created
    conversation.refresh_from_db()
    spoke_at = conversation.last_customer_message_at
    assert spoke_at is not None
    assert spoke_at >= conversation.assigned_at

    # Silence counts from the message, not from the answer.
    assert timers.conversations_watch_inactivity(now=spoke_at + seconds(59)) == {"warned": 0, "closed": 0}
    assert timers.conversations_watch_inactivity(now=spoke_at + seconds(61)) == {"warned": 1, "closed": 0}
    conversation.refresh_from_db()
    assert conversation.inactivity_warned_at == spoke_at + seconds(61)

    # The same message sent again (a reconnecting widget) is not the customer speaking again.
    again, created_again = post(conversation, client_id)
    assert (created_again, again.pk) == (False, message.pk)
    conversation.refresh_from_db()
    assert (conversation.last_customer_message_at, conversation.inactivity_warned_at) == (
        spoke_at,
        spoke_at + seconds(61),
    )

    # A new message is: the warning is taken back and the clock starts again, so when the
    # chat would have closed it is only warned again (the new silence is a minute long).
    post(conversation)
    conversation.refresh_from_db()
    assert conversation.inactivity_warned_at is None
    assert conversation.last_customer_message_at > spoke_at
    assert timers.conversations_watch_inactivity(now=spoke_at + seconds(122)) == {"warned": 1, "closed": 0}
    assert timers.conversations_watch_inactivity(now=spoke_at + seconds(182)) == {"warned": 0, "closed": 1}
    assert system_texts(conversation) == [WARNING, WARNING, CLOSED]


@pytest.mark.django_db
def test_a_late_warning_still_leaves_the_customer_time_to_answer(widget, silent_queue, agent):
    conversation = answered(widget, agent)
    late = conversation.assigned_at + seconds(300)  # beat was down: both times have passed
    assert timers.conversations_watch_inactivity(now=late) == {"warned": 1, "closed": 0}
    assert timers.conversations_watch_inactivity(now=late + seconds(59)) == {"warned": 0, "closed": 0}
    assert timers.conversations_watch_inactivity(now=late + seconds(60)) == {"warned": 0, "closed": 1}


@pytest.mark.django_db
def test_a_queue_may_close_without_warning_and_word_its_own_warning(widget, queue, agent):
    queue.inactivity_close_seconds = 120
    queue.save()
    closing = answered(widget, agent)
    other_queue = QueueFactory(inactivity_warning_seconds=30, inactivity_warning_text="  Hello? Anyone there?  ")
    agent.memberships.create(queue=other_queue)
    warning = answered(WidgetFactory(queue=other_queue), agent)
    now = max(closing.assigned_at, warning.assigned_at) + seconds(120)
    assert timers.conversations_watch_inactivity(now=now) == {"warned": 1, "closed": 1}
    closing.refresh_from_db()
    assert (closing.state, closing.end_reason) == ("ended", "inactivity")
    assert system_texts(closing)[-1] == CLOSED
    assert system_texts(warning) == ["Hello? Anyone there?"]
    # A queue that warns but never closes: the warned chat stays open.
    assert timers.conversations_watch_inactivity(now=now + seconds(3600)) == {"warned": 0, "closed": 0}


@pytest.mark.django_db
def test_no_warning_in_waiting_chats_or_queues_without_the_setting(widget, silent_queue, agent):
    waiting = start(widget)
    quiet_queue = QueueFactory()
    agent.memberships.create(queue=quiet_queue)
    unwatched = answered(WidgetFactory(queue=quiet_queue), agent)
    later = timezone.now() + seconds(3600)
    assert timers.conversations_watch_inactivity(now=later) == {"warned": 0, "closed": 0}
    waiting.refresh_from_db()
    unwatched.refresh_from_db()
    assert (waiting.state, unwatched.state) == ("queued", "active")
    assert system_texts(waiting) == system_texts(unwatched) == []


@pytest.mark.django_db
def test_the_warning_is_in_the_customers_language(widget, silent_queue, agent, finnish_catalogue):
    conversation = answered(widget, agent, locale="fi")
    timers.conversations_watch_inactivity(now=conversation.assigned_at + seconds(60))
    assert system_texts(conversation) == ["Oletko vielä siellä?"]
    with translation.override("fi"):
        assert gettext(WARNING) == "Oletko vielä siellä?"


# --- automatic reply (X1) ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_waiting_customer_gets_one_automatic_reply_with_their_place(
    widget, queue, finnish_catalogue, django_capture_on_commit_callbacks
):
    queue.auto_reply_seconds = 30
    queue.save()
    first = start(widget)
    second = start(widget, locale="fi")

    assert timers.conversations_auto_reply(now=first.created_at + seconds(29)) == 0
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        assert timers.conversations_auto_reply(now=second.created_at + seconds(30)) == 2
    assert system_texts(first) == [AUTO_REPLY % {"position": 1}]
    assert system_texts(second) == ["Kiitos odottamisesta. Olet jonossa sijalla 2."]
    [frame] = [event for group, event in captured if group == f"conv.{second.pk}"]
    assert (frame["type"], frame["author"]["role"], frame["author"]["name"]) == ("message", "system", "Housing advice")
    second.refresh_from_db()
    assert second.auto_replied_at == second.created_at + seconds(30)

    assert timers.conversations_auto_reply(now=second.created_at + seconds(3600)) == 0
    assert len(system_texts(first)) == len(system_texts(second)) == 1


@pytest.mark.django_db
def test_the_queues_own_automatic_reply_is_filled_like_the_welcome(widget, queue, agent):
    queue.auto_reply_seconds = 30
    queue.auto_reply_text = (
        "You are number {queue_position}; {agents_available} free; about {estimated_wait_minutes} min."
    )
    queue.save()
    start(widget)
    conversation = start(widget)
    answered_chat = answered(widget, agent)  # an agent took it: no automatic reply
    assert timers.conversations_auto_reply(now=conversation.created_at + seconds(31)) == 2
    assert system_texts(conversation) == ["You are number 2; 0 free; about ? min."]
    assert system_texts(answered_chat) == []


# --- two beats at once ------------------------------------------------------------------


def run_twice_at_once(sweep, **kwargs) -> list:
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(sweep(**kwargs))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    return results


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_warn_close_or_reply_twice(roles, widget, silent_queue):
    silent_queue.auto_reply_seconds = 30
    silent_queue.save()
    agent = QueueMembershipFactory(queue=silent_queue).agent
    chats = [answered(widget, agent) for _ in range(3)]
    waiting = [start(widget) for _ in range(5)]
    answered_at = max(chat.assigned_at for chat in chats)

    results = run_twice_at_once(timers.conversations_watch_inactivity, now=answered_at + seconds(60))
    assert sum(result["warned"] for result in results) == 3
    results = run_twice_at_once(timers.conversations_watch_inactivity, now=answered_at + seconds(120))
    assert sum(result["closed"] for result in results) == 3
    results = run_twice_at_once(timers.conversations_auto_reply, now=waiting[-1].created_at + seconds(30))
    assert sum(results) == 5

    for chat in chats:
        assert system_texts(chat) == [WARNING, CLOSED]
        assert ConversationEvent.objects.filter(conversation=chat, kind="ended").count() == 1
    for chat in waiting:
        assert system_texts(chat) == [AUTO_REPLY % {"position": waiting.index(chat) + 1}]
