"""The chat lifecycle through its services: start, queue, offer, accept, post, resume, end."""

import datetime
import uuid

import pytest
from django.utils import timezone

from chat import selectors, services
from chat.models import Conversation, PrechatChoice, PrechatField
from chat.services import ChatError
from contactcenter import realtime
from routing import services as routing
from routing.models import AgentProfile, OpeningException, WeeklySlot, WorkItem
from tests.factories import QueueFactory


def frames(captured, group=None, type_=None):
    return [
        event
        for grp, event in captured
        if (group is None or grp == group) and (type_ is None or event["type"] == type_)
    ]


def start(widget, **kwargs):
    kwargs.setdefault("prechat", {})
    return services.conversation_start(widget=widget, **kwargs)


@pytest.mark.django_db
def test_a_whole_chat(widget, ready_agent, django_capture_on_commit_callbacks):
    widget.queue.welcome_message = "Hello! {agents_available} agent(s) free, you are number {queue_position}."
    widget.queue.save()
    agent_group = f"agent.{ready_agent.user_id}"
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        conversation, token = start(widget, locale="fi", context={"app_version": "3.2", "secret": "x"})
    conv_group = f"conv.{conversation.pk}"

    # Stored before published: queued event, then the welcome message with live values.
    replay = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    assert [(f["seq"], f["type"]) for f in replay] == [(1, "event"), (2, "message")]
    assert replay[0]["event"] == "queued"
    assert replay[0]["data"]["position"] == 1
    assert replay[1]["text"] == "Hello! 1 agent(s) free, you are number 1."
    assert replay[1]["author"]["role"] == "system"
    assert conversation.context == {"app_version": "3.2"}

    # The router offered it to the ready agent, who sees the pre-chat answers and context.
    [offer] = frames(captured, agent_group, "offer")
    assert offer["conversation_id"] == str(conversation.pk)
    assert offer["queue"]["name"] == "Housing advice"
    assert offer["expires_at"]

    item = WorkItem.objects.get(reference=str(conversation.pk))
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        routing.offer_accept(agent=ready_agent, item_id=item.pk)
    [assigned] = frames(captured, agent_group, "assigned")
    assert assigned["conversation_id"] == str(conversation.pk)
    [joined] = frames(captured, conv_group, "event")
    assert (joined["seq"], joined["event"], joined["data"]["name"]) == (3, "agent_joined", "Aino")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE

    client_id = str(uuid.uuid4())
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        message, created = services.message_post_by_customer(
            conversation_id=conversation.pk, client_id=client_id, text="Hei, vuokrasopimuksesta"
        )
        again, created_again = services.message_post_by_customer(
            conversation_id=conversation.pk, client_id=client_id, text="Hei, vuokrasopimuksesta"
        )
    assert (created, created_again, again.pk, message.seq) == (True, False, message.pk, 4)
    [echo] = frames(captured, conv_group, "message")
    assert echo["client_id"] == client_id

    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        reply, _ = services.message_post_by_agent(
            conversation_id=conversation.pk, user=ready_agent.user, client_id=str(uuid.uuid4()), text="Autan mielelläni"
        )
        note, _ = services.message_post_by_agent(
            conversation_id=conversation.pk,
            user=ready_agent.user,
            client_id=None,
            text="Asked about a lease",
            internal=True,
        )
    assert reply.seq == 5
    assert note.internal
    assert note.seq == 5  # anchored to the visible item it follows
    assert frames(captured, f"conv.{conversation.pk}.agents", "message")[0]["internal"] is True
    assert [f["text"] for f in frames(captured, conv_group, "message")] == ["Autan mielelläni"]

    customer_view = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    assert [f["seq"] for f in customer_view] == [1, 2, 3, 4, 5]
    assert all("internal" not in f for f in customer_view)
    agent_view = selectors.items_after(conversation_id=conversation.pk, after_seq=3, for_agent=True)
    assert [(f["seq"], f.get("internal", False)) for f in agent_view] == [(4, False), (5, False), (5, True)]

    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        services.conversation_end(conversation_id=conversation.pk, ended_by="agent", actor=ready_agent.user)
    [ended] = frames(captured, conv_group, "event")
    assert (ended["seq"], ended["event"], ended["data"]["by"]) == (6, "ended", "agent")
    item.refresh_from_db()
    assert item.state == WorkItem.State.DONE
    with pytest.raises(ChatError) as error:
        services.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text="Vielä")
    assert error.value.code == "ended"

    # Ending twice changes nothing; a rating is taken after the end.
    services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    services.rating_give(conversation_id=conversation.pk, score=5, comment="Kiitos")
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.ended_by, conversation.rating) == (6, "agent", 5)
    assert services.conversation_for_customer_token(token).pk == conversation.pk


@pytest.mark.django_db
def test_customer_token_is_signed_and_revocable(widget):
    conversation, token = start(widget)
    with pytest.raises(ChatError):
        services.conversation_for_customer_token(token[:-2] + "xx")
    services.customer_token_revoke(conversation_id=conversation.pk)
    with pytest.raises(ChatError) as error:
        services.conversation_for_customer_token(token)
    assert error.value.code == "unauthorized"


@pytest.mark.django_db
def test_outside_opening_hours_the_start_is_refused_with_the_closed_message(widget):
    queue = widget.queue
    queue.closed_message = "Olemme suljettu. Avoinna ma–pe 9–14.30."
    queue.save()
    OpeningException.objects.create(queue=queue, date=timezone.localdate(), closed=True, note="Training day")
    # Exceptions are per local date of the queue; make today's the one in force everywhere.
    WeeklySlot.objects.filter(queue=queue).delete()
    with pytest.raises(ChatError) as error:
        start(widget)
    assert (error.value.code, error.value.message) == ("closed", "Olemme suljettu. Avoinna ma–pe 9–14.30.")
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_prechat_is_validated_and_a_choice_routes_to_another_queue(widget, roles):
    queue = widget.queue
    other = QueueFactory(name="Rent arrears", always_open=True)
    PrechatField.objects.create(queue=queue, name="email", label="E-mail", type="email", required=True)
    PrechatField.objects.create(queue=queue, name="customer_number", label="Customer number", type="number")
    topic = PrechatField.objects.create(queue=queue, name="topic", label="Topic", type="choice", required=True)
    PrechatChoice.objects.create(field=topic, value="lease", label="Lease")
    PrechatChoice.objects.create(field=topic, value="arrears", label="Rent arrears", route_to=other)

    with pytest.raises(ChatError) as error:
        start(widget, prechat={"email": "not-an-address", "customer_number": "12a", "topic": "x", "extra": "1"})
    assert error.value.code == "invalid"
    assert set(error.value.fields) == {"email", "customer_number", "topic", "extra"}

    conversation, _ = start(widget, prechat={"email": "liisa@example.fi", "topic": "arrears"})
    assert conversation.queue == other
    assert conversation.prechat == {"email": "liisa@example.fi", "topic": "arrears"}
    assert conversation.contact.email == "liisa@example.fi"


@pytest.mark.django_db
def test_a_returning_visitor_links_conversations_to_one_contact(widget):
    visitor = str(uuid.uuid4())
    first, _ = start(widget, visitor_id=visitor)
    second, _ = start(widget, visitor_id=visitor)
    third, _ = start(widget)
    assert first.contact_id == second.contact_id != third.contact_id


@pytest.mark.django_db
def test_text_is_validated(widget):
    conversation, _ = start(widget)
    for text, code in [("", "invalid"), ("   ", "invalid"), ("x" * 4001, "too_long"), (None, "invalid")]:
        with pytest.raises(ChatError) as error:
            services.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text=text)
        assert error.value.code == code
    with pytest.raises(ChatError):
        services.message_post_by_customer(conversation_id=conversation.pk, client_id="not-a-uuid", text="hi")
    message, _ = services.message_post_by_customer(conversation_id=conversation.pk, client_id=None, text="x" * 4000)
    assert len(message.text) == 4000


@pytest.mark.django_db
def test_an_agent_outside_the_chat_cannot_post_or_end_it(widget, ready_agent, outsider_agent):
    conversation, _ = start(widget)
    with pytest.raises(ChatError):
        services.message_post_by_agent(
            conversation_id=conversation.pk, user=outsider_agent.user, client_id=None, text="hello"
        )
    with pytest.raises(ChatError):
        services.conversation_end(conversation_id=conversation.pk, ended_by="agent", actor=outsider_agent.user)


@pytest.mark.django_db
def test_a_customer_gone_longer_than_the_grace_time_ends_the_chat(widget, django_capture_on_commit_callbacks):
    conversation, _ = start(widget)
    Conversation.objects.filter(pk=conversation.pk).update(
        customer_seen_at=timezone.now() - datetime.timedelta(seconds=widget.queue.customer_grace_seconds + 5)
    )
    kept, _ = start(widget)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversations_end_gone_customers() == 1
    conversation.refresh_from_db()
    kept.refresh_from_db()
    assert (conversation.state, conversation.ended_by, conversation.end_reason) == ("ended", "system", "customer_gone")
    assert kept.state == "queued"
    assert WorkItem.objects.get(reference=str(conversation.pk)).state == WorkItem.State.ABANDONED


@pytest.mark.django_db
def test_the_shown_agent_name_follows_the_widget(widget, ready_agent):
    user = ready_agent.user
    assert services.shown_agent_name(widget, user) == "Aino"
    ready_agent.display_name = "Neuvoja Aino"
    ready_agent.save()
    assert services.shown_agent_name(widget, user) == "Neuvoja Aino"
    widget.agent_name, widget.agent_title = "title", "Asiakaspalvelija"
    assert services.shown_agent_name(widget, user) == "Asiakaspalvelija"


@pytest.mark.django_db
def test_queue_position_and_wait_estimate(widget, agent):
    first, _ = start(widget)
    second, _ = start(widget)
    frame = selectors.customer_queue_frame(conversation=second)
    assert frame == {"type": "queue", "position": 2, "estimated_wait_seconds": None}  # nobody ready
    routing.presence_set(agent=agent, presence="not_ready")
    AgentProfile.objects.filter(pk=agent.pk).update(presence="ready")
    frame = selectors.customer_queue_frame(conversation=second)
    assert frame["estimated_wait_seconds"] == 2 * 300 // 3  # two ahead of the slot, 3 slots, 5 min each
    assert selectors.customer_queue_frame(conversation=first)["position"] == 1


@pytest.mark.django_db
def test_the_wait_estimate_follows_the_slower_of_capacity_and_flow(widget, agent):
    AgentProfile.objects.filter(pk=agent.pk).update(presence="ready")
    estimate = selectors.WaitEstimate(queue=widget.queue)
    assert estimate.seconds(3) == 300  # 3 × 300 s ÷ 3 slots, no history yet
    now = timezone.now()
    for n in range(6):  # six left the line in the last 15 minutes: one every 150 s
        WorkItem.objects.create(
            channel="chat", reference=f"past-{n}", queue=widget.queue, state="done", agent=agent,
            enqueued_at=now - datetime.timedelta(minutes=20), assigned_at=now - datetime.timedelta(minutes=n + 1),
            finished_at=now - datetime.timedelta(minutes=n),
        )  # fmt: skip
    estimate = selectors.WaitEstimate(queue=widget.queue)
    assert estimate.handle_seconds == 60
    assert estimate.seconds(3) == 450  # flow: 3 ÷ (6 / 900 s) beats capacity: 3 × 60 ÷ 3


class HeldRow:
    """Another transaction (the relay's batch, say) holding a chat's row until released."""

    def __init__(self, conversation_id):
        import threading

        self.conversation_id = conversation_id
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        from django.db import connection, transaction

        with transaction.atomic():
            Conversation.objects.select_for_update(no_key=True).get(pk=self.conversation_id)
            self.locked.set()
            self.release.wait(10)
        connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(5)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join()


def seen_long_ago(*conversations):
    long_ago = timezone.now() - datetime.timedelta(days=1)
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(customer_seen_at=long_ago)
    return long_ago


@pytest.mark.django_db(transaction=True)
def test_the_customers_heartbeat_skips_a_chat_another_transaction_holds(widget):
    # The shared heartbeat marks thousands of chats; waiting on a row the relay holds (or
    # locking in another order than the relay) deadlocked with it under load.
    held, free = (services.conversation_start(widget=widget, prechat={})[0] for _ in range(2))
    long_ago = seen_long_ago(held, free)
    with HeldRow(held.pk):
        services.customers_seen(conversation_ids=[held.pk, free.pk])
    assert Conversation.objects.get(pk=free.pk).customer_seen_at > long_ago
    assert Conversation.objects.get(pk=held.pk).customer_seen_at == long_ago  # marked next round


@pytest.mark.django_db(transaction=True)
def test_a_customers_socket_opening_marks_them_seen_even_while_the_relay_holds_their_chat(widget):
    # Unlike the heartbeat, the socket's first mark is not left for a next round: it waits.
    import threading

    from django.db import connection

    conversation, _token = services.conversation_start(widget=widget, prechat={})
    long_ago = seen_long_ago(conversation)

    def socket_opens():
        services.customer_seen(conversation_id=conversation.pk)
        connection.close()

    with HeldRow(conversation.pk) as held:
        opening = threading.Thread(target=socket_opens)
        opening.start()
        opening.join(0.5)
        assert opening.is_alive()  # waiting for the row, not skipping it
        held.release.set()
        opening.join(5)
    assert Conversation.objects.get(pk=conversation.pk).customer_seen_at > long_ago


@pytest.mark.django_db
def test_the_heartbeat_marks_every_open_chat_however_many_statements_it_takes(widget, monkeypatch):
    monkeypatch.setattr(services, "SEEN_CHUNK", 2)
    chats = [services.conversation_start(widget=widget, prechat={})[0] for _ in range(5)]
    services.conversation_end(conversation_id=chats[4].pk, ended_by="customer")
    long_ago = seen_long_ago(*chats)
    services.customers_seen(conversation_ids=[c.pk for c in chats])
    seen = dict(Conversation.objects.filter(pk__in=[c.pk for c in chats]).values_list("pk", "customer_seen_at"))
    assert all(seen[c.pk] > long_ago for c in chats[:4])
    assert seen[chats[4].pk] == long_ago  # ended: its customer is gone
