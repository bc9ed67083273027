"""The relay's batched hot path (chat/relay.py): the same rules as the single-message
services, seqs in order, each client_id stored once, frames published in seq order."""

import asyncio
import json
import uuid

import psycopg
import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import translation

from chat import handover, relay
from chat import services as chat
from chat.models import Conversation, Message
from chat.services import ChatError
from routing.models import Contact
from tests.chat.test_toolkit import answered_chat, colleague
from webhooks import services as webhooks
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

CUSTOMER, AGENT = Message.Role.CUSTOMER, Message.Role.AGENT


def post(conversation, role, text, client_id=None, user=None):
    return relay.Post(
        conversation_id=conversation.pk,
        role=role,
        text=text,
        client_id=client_id,
        user_id=user.pk if user is not None else None,
    )


@pytest.mark.django_db
def test_a_batch_takes_seqs_in_order_and_skips_what_is_stored(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    assert Contact.objects.filter(pk=conversation.contact_id).update(name="Matti") == 1
    stored_before = uuid.uuid4()
    chat.message_post_by_customer(conversation_id=conversation.pk, client_id=stored_before, text="earlier")
    Conversation.objects.filter(pk=conversation.pk).update(inactivity_warned_at="2026-01-01T00:00Z")
    base = Conversation.objects.get(pk=conversation.pk).last_seq
    resent = uuid.uuid4()

    outcomes = relay.write_batch(
        [
            post(conversation, CUSTOMER, "Hei", resent),
            post(conversation, AGENT, "Moi", uuid.uuid4(), user=ready_agent.user),
            post(conversation, CUSTOMER, "Hei", resent),  # a resend inside the same batch
            post(conversation, CUSTOMER, "earlier", stored_before),  # stored by an earlier batch
            post(conversation, CUSTOMER, "no client id"),
        ]
    )

    assert [outcome for outcome, _ in outcomes] == [relay.CREATED, relay.CREATED, "duplicate", "duplicate", "created"]
    frames = [frame for _, frame in outcomes if frame is not None]
    assert [frame["seq"] for frame in frames] == [base + 1, base + 2, base + 3]
    assert [(f["author"]["role"], f["author"]["name"], f["text"]) for f in frames] == [
        ("customer", "Matti", "Hei"),
        ("agent", "Aino", "Moi"),
        ("customer", "Matti", "no client id"),
    ]
    assert (frames[0]["conversation_id"], frames[0]["client_id"]) == (str(conversation.pk), str(resent))
    assert Message.objects.filter(conversation=conversation, client_id=resent).count() == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == base + 3
    # The customer spoke: present, and their silence (W11) counts again from now, unwarned.
    assert conversation.inactivity_warned_at is None
    assert None not in (conversation.last_customer_message_at, conversation.customer_seen_at)
    # The same history the single-message service would have written, gap-free.
    seqs = list(Message.objects.filter(conversation=conversation, internal=False).values_list("seq", flat=True))
    assert seqs == sorted(set(seqs))


@pytest.mark.django_db
def test_refusals_store_nothing_and_leave_the_rest_of_the_batch_alone(widget, ready_agent, outsider_agent):
    conversation = answered_chat(widget, ready_agent)
    ended = answered_chat(widget, colleague(conversation.queue, "olga"))
    chat.conversation_end(conversation_id=ended.pk, ended_by="customer")
    consultant = colleague(conversation.queue, "pekka")
    invitation = handover.invite(
        conversation_id=conversation.pk, sender=ready_agent.user, receiver_id=consultant.user_id, kind="consultation"
    )
    handover.invitation_accept(invitation_id=invitation.pk, user=consultant.user)
    base = Conversation.objects.get(pk=conversation.pk).last_seq
    missing = Conversation(pk=uuid.uuid4())

    outcomes = relay.write_batch(
        [
            post(missing, CUSTOMER, "anyone?"),
            post(ended, CUSTOMER, "still there?"),
            post(conversation, AGENT, "not mine", user=outsider_agent.user),
            post(conversation, AGENT, "a consultant only writes notes", user=consultant.user),
            post(conversation, CUSTOMER, "this one counts"),
        ]
    )

    assert [outcome for outcome, _ in outcomes] == ["not_found", "ended", "forbidden", "forbidden", "created"]
    assert list(Message.objects.filter(conversation=conversation, seq__gt=base).values_list("text", flat=True)) == [
        "this one counts"
    ]
    assert not Message.objects.filter(conversation=ended, text="still there?").exists()


@pytest.mark.django_db
def test_webhooks_and_pushes_as_the_service_sends_them(widget, ready_agent):
    webhooks.forget_endpoints()
    WebhookEndpoint.objects.create(
        name="App backend", url="https://app.example/hook", events=[Event.MESSAGE_CREATED, Event.PUSH_AGENT_MESSAGE]
    )
    conversation = answered_chat(widget, ready_agent, context={"client_id": "device-42"})
    WebhookDelivery.objects.all().delete()
    chat.customer_socket_opened(conversation_id=conversation.pk)
    chat.customer_seen(conversation_id=conversation.pk)
    try:
        relay.write_batch([post(conversation, AGENT, "Hetki", user=ready_agent.user)])
        assert list(WebhookDelivery.objects.values_list("event", flat=True)) == [Event.MESSAGE_CREATED]

        chat.customer_socket_closed(conversation_id=conversation.pk)  # the app went to the background
        relay.write_batch([post(conversation, AGENT, "Valmista!", user=ready_agent.user)])
        pushes = WebhookDelivery.objects.filter(event=Event.PUSH_AGENT_MESSAGE)
        assert [(p.payload["data"]["client_id"], p.payload["data"]["preview"]) for p in pushes] == [
            ("device-42", "Valmista!")
        ]
        created = WebhookDelivery.objects.filter(event=Event.MESSAGE_CREATED)
        assert sorted(d.payload["data"]["text"] for d in created) == ["Hetki", "Valmista!"]
    finally:
        webhooks.forget_endpoints()


@pytest.mark.django_db(transaction=True)
async def test_concurrent_posts_are_stored_once_and_published_in_seq_order(widget, ready_agent, outsider_agent):
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(chat.conv_group(conversation.pk), listener)
    user_id = await sync_to_async(lambda: ready_agent.user.pk)()
    client_ids = [uuid.uuid4() for _ in range(60)]

    def send(index, client_id):
        if index % 2:
            return relay.post_agent_message(
                conversation_id=conversation.pk, user_id=user_id, client_id=client_id, text=f"a{index}"
            )
        return relay.post_customer_message(conversation_id=conversation.pk, client_id=client_id, text=f"c{index}")

    results = await asyncio.gather(
        *(send(i, client_id) for i, client_id in enumerate(client_ids)),
        *(send(i, client_id) for i, client_id in enumerate(client_ids[:10])),  # resends
    )
    assert results == [True] * 60 + [False] * 10

    published = []
    while len(published) < 60:
        event = (await asyncio.wait_for(layer.receive(listener), 5))["event"]
        if event["type"] == "message":
            published.append(event)
    assert sorted(f["client_id"] for f in published) == sorted(str(c) for c in client_ids)
    seqs = [frame["seq"] for frame in published]
    assert seqs == list(range(seqs[0], seqs[0] + 60))  # in seq order, no gap
    stored = await sync_to_async(
        lambda: Message.objects.filter(conversation=conversation, client_id__in=client_ids).count()
    )()
    assert stored == 60

    with pytest.raises(ChatError) as refused:
        await relay.post_agent_message(
            conversation_id=conversation.pk,
            user_id=await sync_to_async(lambda: outsider_agent.user.pk)(),
            client_id=None,
            text="hello?",
        )
    assert (refused.value.code, refused.value.message) == ("forbidden", "You are not in this chat.")
    with pytest.raises(ChatError) as invalid:
        await relay.post_customer_message(conversation_id=conversation.pk, client_id="nope", text="x")
    assert invalid.value.code == "invalid"
    json.dumps(published)  # frames are plain JSON


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
async def test_the_writer_does_not_take_the_language_of_the_socket_that_started_it(widget, ready_agent, monkeypatch):
    # A Finnish customer's socket runs with Finnish active and may be the first to post in
    # this process; the writer it starts serves every socket after it.
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    languages_published_in = []
    publish = relay.send_stored_many

    async def noting_the_language(items):
        languages_published_in.append(translation.get_language())
        await publish(items)

    monkeypatch.setattr(relay, "send_stored_many", noting_the_language)
    assert relay._writers.get(asyncio.get_running_loop()) is None  # this post starts the writer
    with translation.override("fi"):
        assert await relay.post_customer_message(conversation_id=conversation.pk, client_id=uuid.uuid4(), text="Hei")
    assert languages_published_in == [settings.LANGUAGE_CODE]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["event loop", "database thread"])
async def test_a_dropped_database_connection_costs_the_sender_nothing(widget, ready_agent, path):
    # The writer's connection dies while idle (a restarted database, a failover): the next
    # message is stored on a fresh connection instead of coming back as an error. A batch
    # with no webhook due is stored from the event loop; one that may have webhooks (here:
    # the endpoints not looked at lately) from the database thread.
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    loop = asyncio.get_running_loop()

    async def post(text):
        webhooks.forget_endpoints()
        if path == "event loop":
            assert not await sync_to_async(webhooks.subscribed)(Event.MESSAGE_CREATED)
        client_id = uuid.uuid4()
        assert await relay.post_customer_message(conversation_id=conversation.pk, client_id=client_id, text=text)
        return client_id

    async def writer_pid():
        if path == "event loop":
            return await relay._writer(loop).backend_pid()
        return await loop.run_in_executor(relay._executor, _backend_pid)

    await post("one")
    pid = await writer_pid()
    assert pid is not None
    await sync_to_async(_terminate)(pid)

    client_id = await post("two")
    assert await writer_pid() not in (pid, None)
    stored = Message.objects.filter(conversation=conversation, client_id=client_id)
    assert await sync_to_async(stored.count)() == 1


@pytest.mark.django_db
def test_a_lost_resend_race_on_psycopg_is_tried_again(widget, ready_agent):
    # The batch talks to psycopg directly, so a unique-constraint race arrives unwrapped by Django.
    conversation = answered_chat(widget, ready_agent)
    client_id = uuid.uuid4()
    chat.message_post_by_customer(conversation_id=conversation.pk, client_id=client_id, text="first")
    raw = connection.connection
    with pytest.raises(psycopg.IntegrityError) as race, transaction.atomic():
        raw.execute(
            "INSERT INTO chat_message (conversation_id, seq, client_id, author_role, author_name, text, link_url, "
            "internal, sent_at) VALUES (%s, 999, %s, 'customer', '', 'again', '', false, now())",
            [conversation.pk, client_id],
        )
    assert relay._retryable(race.value)
    with pytest.raises(psycopg.DataError) as bad, transaction.atomic():
        raw.execute("SELECT 1 / 0")
    assert not relay._retryable(bad.value)


@pytest.mark.django_db(transaction=True)
async def test_a_text_postgresql_cannot_store_is_refused_before_the_batch(widget, ready_agent):
    # A NUL would fail the statement, and with it every other post of the batch.
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    with pytest.raises(ChatError) as refused:
        await relay.post_customer_message(conversation_id=conversation.pk, client_id=uuid.uuid4(), text="a\x00b")
    assert refused.value.code == "invalid"
    assert await relay.post_customer_message(conversation_id=conversation.pk, client_id=uuid.uuid4(), text="ab")


@pytest.mark.django_db(transaction=True)
async def test_a_failed_batch_that_was_stored_after_all_is_published_once_the_database_answers(
    widget, ready_agent, monkeypatch
):
    # The connection went after the commit, before its answer: the sender heard "unavailable",
    # yet the message is stored. Nobody may send again, so the writer looks again.
    monkeypatch.setattr(relay, "LOOK_AGAIN_SECONDS", 0.05)
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(chat.conv_group(conversation.pk), listener)
    stored_after_all, never_stored = uuid.uuid4(), uuid.uuid4()
    await sync_to_async(chat.message_post_by_customer)(
        conversation_id=conversation.pk, client_id=stored_after_all, text="did it go?"
    )
    while (await asyncio.wait_for(layer.receive(listener), 5))["event"]["type"] != "message":
        pass  # the service's own publish

    writer = relay._writer(asyncio.get_running_loop())
    writer._look_again(
        [post(conversation, CUSTOMER, "did it go?", stored_after_all), post(conversation, CUSTOMER, "x", never_stored)]
    )
    event = (await asyncio.wait_for(layer.receive(listener), 5))["event"]
    assert (event["type"], event["client_id"], event["text"]) == ("message", str(stored_after_all), "did it go?")
    async with asyncio.timeout(5):
        while writer.looking_again:  # noqa: ASYNC110 - the writer's own task
            await asyncio.sleep(0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(listener), 0.5)  # nothing for the post never stored


@pytest.mark.django_db(transaction=True)
async def test_a_resend_found_stored_is_published_again(widget, ready_agent, monkeypatch):
    # Its first try may have been stored without being published (an answer lost, then a
    # retry that found it): the others in the chat get it from the resend.
    monkeypatch.setattr(relay, "LOOK_AGAIN_SECONDS", 0.05)
    conversation = await sync_to_async(answered_chat)(widget, ready_agent)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(chat.conv_group(conversation.pk), listener)
    client_id = uuid.uuid4()
    assert await relay.post_customer_message(conversation_id=conversation.pk, client_id=client_id, text="hei")
    first = (await asyncio.wait_for(layer.receive(listener), 5))["event"]
    assert await relay.post_customer_message(conversation_id=conversation.pk, client_id=client_id, text="hei") is False
    again = (await asyncio.wait_for(layer.receive(listener), 5))["event"]
    assert (again["client_id"], again["seq"]) == (first["client_id"], first["seq"])


async def _post_at(rate: float, conversations: list, count: int) -> list[bool]:
    """`count` customers' messages at `rate` per second over `conversations`, as sockets would."""
    sends = []
    for index in range(count):
        conversation = conversations[index % len(conversations)]
        sends.append(
            asyncio.ensure_future(
                relay.post_customer_message(conversation_id=conversation.pk, client_id=uuid.uuid4(), text=f"m{index}")
            )
        )
        await asyncio.sleep(1 / rate)
    return await asyncio.gather(*sends)


@pytest.mark.django_db(transaction=True)
async def test_under_load_a_batch_waits_a_moment_for_more(widget, ready_agent, monkeypatch):
    monkeypatch.setattr(relay, "GATHER_SECONDS", 0.05)  # long, so the gathering shows
    monkeypatch.setattr(relay, "GATHER_FROM_RATE", 100)  # what this test's loop surely reaches
    conversations = [await sync_to_async(answered_chat)(widget, ready_agent) for _ in range(2)]
    writer = relay._writer(asyncio.get_running_loop())
    assert await _post_at(400, conversations, 120) == [True] * 120  # the writer sees the load
    batches, written = writer.batches, writer.posts_written
    assert await _post_at(400, conversations, 200) == [True] * 200
    assert writer.gathered > 0
    # Several a batch (the test's loop reaches 150–400/s); written as they come, 1–2.
    assert (writer.posts_written - written) / (writer.batches - batches) >= 4


@pytest.mark.django_db(transaction=True)
async def test_a_light_load_never_waits_to_gather(widget, ready_agent, monkeypatch):
    monkeypatch.setattr(relay, "GATHER_SECONDS", 0.05)
    conversations = [await sync_to_async(answered_chat)(widget, ready_agent) for _ in range(2)]
    writer = relay._writer(asyncio.get_running_loop())
    assert await _post_at(20, conversations, 12) == [True] * 12  # a small desk: 20 messages a second
    assert (writer.gathered, writer.batches, writer.posts_written) == (0, 12, 12)


@pytest.mark.django_db
def test_a_batch_finds_its_conversations_by_key_however_many_there_are(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    ended = [
        Conversation(widget=widget, queue=conversation.queue, contact_id=conversation.contact_id, state="ended")
        for _ in range(3000)
    ]
    Conversation.objects.bulk_create(ended)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_conversation")  # what the planner sees of a desk's history

    def scans() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'chat_conversation'"
            )
            return cursor.fetchone()

    seq_before, index_before = scans()
    with transaction.atomic():  # the counts are this transaction's, in this session
        outcomes = relay.write_batch([post(conversation, CUSTOMER, "Hei", uuid.uuid4())])
    seq_after, index_after = scans()

    assert [outcome for outcome, _ in outcomes] == [relay.CREATED]
    assert seq_after == seq_before  # 0008's lock read the whole table on every batch
    assert index_after > index_before
