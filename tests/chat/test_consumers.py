"""The wire (PROTOCOL.md) through the real ASGI app, Redis channel layer and PostgreSQL."""

import asyncio
import json
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its DB connections
from channels.testing import WebsocketCommunicator
from django.utils import translation
from rest_framework.authtoken.models import Token

from chat import consumers, services
from chat.models import Conversation, Message
from contactcenter.asgi import application
from routing import services as routing
from routing.models import AgentProfile

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(path, **kwargs):
    communicator = WebsocketCommunicator(application, path, **kwargs)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def send(communicator, frame):
    await communicator.send_to(text_data=json.dumps(frame))


async def until(communicator, predicate, within=5.0):
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no matching frame; saw {seen}")
        try:
            raw = await communicator.receive_from(timeout=remaining)
        except TimeoutError:
            if communicator.future.done() and not communicator.future.cancelled():
                raise AssertionError(f"consumer crashed: {communicator.future.exception()!r}") from None
            raise AssertionError(f"no matching frame; saw {seen}") from None
        frame = json.loads(raw)
        seen.append(frame)
        if predicate(frame):
            return frame


async def collect(communicator, quiet=0.5):
    """Every frame until the socket has been quiet for `quiet` seconds."""
    frames = []
    # receive_nothing, not a timed receive: a receive that times out cancels the application.
    while not await communicator.receive_nothing(timeout=quiet):
        frames.append(json.loads(await communicator.receive_from()))
    return frames


@pytest.fixture
def start(widget):
    async def start_conversation(**kwargs):
        kwargs.setdefault("prechat", {})
        return await sync_to_async(services.conversation_start)(widget=widget, **kwargs)

    return start_conversation


@pytest.fixture
def agent_token(agent):
    return Token.objects.create(user=agent.user).key


async def customer_socket(token, after_seq=0):
    communicator = await connect("/ws/chat/")
    await send(communicator, {"type": "auth", "token": token, "after_seq": after_seq})
    return communicator


async def agent_socket(key):
    communicator = await connect("/ws/agent/")
    await send(communicator, {"type": "auth", "token": key})
    await until(communicator, lambda f: f["type"] == "presence")
    return communicator


async def test_a_whole_chat_on_the_wire(start, agent, agent_token):
    agent_ws = await agent_socket(agent_token)
    await send(agent_ws, {"type": "presence", "state": "ready"})
    await until(agent_ws, lambda f: f["type"] == "presence" and f["state"] == "ready")

    conversation, token = await start(context={"device": "Pixel 9", "os": "Android 17"})
    cid = str(conversation.pk)
    customer = await customer_socket(token)
    queued = await until(customer, lambda f: f["type"] == "event")
    assert (queued["seq"], queued["event"]) == (1, "queued")

    offer = await until(agent_ws, lambda f: f["type"] == "offer")
    assert offer["conversation_id"] == cid
    assert offer["context"] == {"device": "Pixel 9", "os": "Android 17"}
    await send(agent_ws, {"type": "accept", "conversation_id": cid})
    assigned = await until(agent_ws, lambda f: f["type"] == "assigned")
    assert assigned["conversation_id"] == cid
    joined = await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_joined")
    assert joined["data"]["name"] == "Aino"

    await send(customer, {"type": "typing", "active": True})
    typing = await until(agent_ws, lambda f: f["type"] == "typing")
    assert (typing["role"], typing["active"], typing["conversation_id"]) == ("customer", True, cid)

    client_id = str(uuid.uuid4())
    await send(customer, {"type": "message", "client_id": client_id, "text": "<b>Hei</b>"})
    echo = await until(customer, lambda f: f["type"] == "message" and f.get("client_id") == client_id)
    assert echo["author"]["role"] == "customer"
    assert "conversation_id" not in echo
    at_agent = await until(agent_ws, lambda f: f["type"] == "message" and f["text"] == "<b>Hei</b>")
    assert at_agent["conversation_id"] == cid

    await send(agent_ws, {"type": "typing", "conversation_id": cid, "active": True})
    typing = await until(customer, lambda f: f["type"] == "typing")
    assert typing == {"type": "typing", "role": "agent", "name": "Aino", "active": True}

    await send(agent_ws, {"type": "note", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "VIP"})
    note = await until(agent_ws, lambda f: f["type"] == "message" and f.get("internal"))
    assert note["text"] == "VIP"
    await send(agent_ws, {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "Moi!"})
    reply = await until(customer, lambda f: f["type"] == "message" and f["author"]["role"] == "agent")
    assert reply["text"] == "Moi!"  # the note never reached the customer

    await send(customer, {"type": "end"})
    ended = await until(agent_ws, lambda f: f["type"] == "event" and f["event"] == "ended")
    assert ended["conversation_id"] == cid
    assert ended["data"]["by"] == "customer"
    await until(customer, lambda f: f["type"] == "event" and f["event"] == "ended")
    await send(customer, {"type": "rating", "score": 4})
    assert (await until(customer, lambda f: f["type"] == "rating"))["score"] == 4

    seqs = [f["seq"] for f in await sync_to_async(_customer_replay)(cid)]
    assert seqs == list(range(1, len(seqs) + 1))
    await customer.disconnect()
    await agent_ws.disconnect()


def _customer_replay(cid):
    from chat.selectors import items_after

    return items_after(conversation_id=cid, after_seq=0, for_agent=False)


async def test_reconnect_replays_what_was_missed_then_goes_live(start, agent, agent_token):
    conversation, token = await start()
    cid = str(conversation.pk)
    agent_ws = await agent_socket(agent_token)
    await send(agent_ws, {"type": "pick", "conversation_id": cid})
    await until(agent_ws, lambda f: f["type"] == "assigned")

    customer = await customer_socket(token)
    joined = await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_joined")
    await until(agent_ws, lambda f: f["type"] == "customer_presence" and f["online"])
    await customer.disconnect()
    await until(agent_ws, lambda f: f["type"] == "customer_presence" and not f["online"])

    for text in ("one", "two"):
        await send(agent_ws, {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": text})
        await until(agent_ws, lambda f, text=text: f["type"] == "message" and f["text"] == text)

    customer = await customer_socket(token, after_seq=joined["seq"])
    replayed = [await until(customer, lambda f: f["type"] == "message") for _ in range(2)]
    assert [(f["seq"], f["text"]) for f in replayed] == [(joined["seq"] + 1, "one"), (joined["seq"] + 2, "two")]
    await send(agent_ws, {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "live"})
    live = await until(customer, lambda f: f["type"] == "message")
    assert (live["seq"], live["text"]) == (joined["seq"] + 3, "live")
    await customer.disconnect()
    await agent_ws.disconnect()


async def test_the_same_client_id_twice_stores_one_message(start):
    conversation, token = await start()
    customer = await customer_socket(token)
    client_id = str(uuid.uuid4())
    for _ in range(2):
        await send(customer, {"type": "message", "client_id": client_id, "text": "once"})
    frames = [f for f in await collect(customer) if f["type"] == "message" and f.get("client_id") == client_id]
    assert len(frames) == 1
    count = await sync_to_async(Message.objects.filter(conversation_id=conversation.pk, client_id=client_id).count)()
    assert count == 1
    await customer.disconnect()


async def test_bad_frames_get_errors_and_keep_the_socket(start):
    conversation, token = await start()
    customer = await customer_socket(token)
    await collect(customer, quiet=0.3)
    for raw, code in [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 4001}), "too_long"),
        (json.dumps({"type": "message", "client_id": "nope", "text": "hi"}), "invalid"),
        (json.dumps({"type": "typing", "active": "yes"}), "invalid"),
        (json.dumps({"type": "rating", "score": 5}), "not_ended"),
    ]:
        await customer.send_to(text_data=raw)
        error = await until(customer, lambda f: f["type"] == "error")
        assert error["code"] == code, raw
    await send(customer, {"type": "message", "client_id": str(uuid.uuid4()), "text": "still here"})
    await until(customer, lambda f: f["type"] == "message" and f["text"] == "still here")
    await customer.disconnect()


async def test_a_flood_is_rate_limited(start):
    conversation, token = await start()
    customer = await customer_socket(token)
    for _ in range(60):
        await send(customer, {"type": "typing", "active": True})
    frames = await collect(customer)
    assert any(f["type"] == "error" and f["code"] == "rate_limited" for f in frames)
    await customer.disconnect()


async def test_a_message_over_the_rate_limit_is_refused_by_its_client_id_and_stored_when_sent_again(start):
    conversation, token = await start()
    customer = await customer_socket(token)
    await collect(customer)
    said = [str(uuid.uuid4()) for _ in range(40)]
    for client_id in said:
        await send(customer, {"type": "message", "client_id": client_id, "text": client_id})
    frames = await collect(customer)
    refused = [f["client_id"] for f in frames if f["type"] == "error" and f["code"] == "rate_limited"]
    echoed = [f["client_id"] for f in frames if f["type"] == "message"]
    assert refused
    assert sorted(refused + echoed) == sorted(said)
    assert await sync_to_async(Message.objects.filter(conversation=conversation, client_id__in=refused).count)() == 0

    await asyncio.sleep(len(refused) / 10 + 0.2)  # the bucket refills at 10 frames/s
    for client_id in refused:
        await send(customer, {"type": "message", "client_id": client_id, "text": client_id})
    again = await collect(customer)
    assert sorted(f["client_id"] for f in again if f["type"] == "message") == sorted(refused)
    stored = await sync_to_async(list)(
        Message.objects.filter(conversation=conversation, client_id__isnull=False).values_list("client_id", flat=True)
    )
    assert sorted(str(client_id) for client_id in stored) == sorted(said)
    await customer.disconnect()


async def test_unauthenticated_sockets_are_closed_with_4401(start, monkeypatch):
    communicator = await connect("/ws/chat/")
    await send(communicator, {"type": "message", "text": "hi"})
    assert (await communicator.receive_output(timeout=2))["code"] == 4401

    communicator = await connect("/ws/chat/")
    await send(communicator, {"type": "auth", "token": "forged"})
    assert (await communicator.receive_output(timeout=2))["code"] == 4401

    conversation, token = await start()
    await sync_to_async(services.customer_token_revoke)(conversation_id=conversation.pk)
    communicator = await connect("/ws/chat/")
    await send(communicator, {"type": "auth", "token": token})
    assert (await communicator.receive_output(timeout=2))["code"] == 4401

    monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.2)
    communicator = await connect("/ws/agent/")
    assert (await communicator.receive_output(timeout=2))["code"] == 4401


async def test_a_customer_socket_from_a_foreign_origin_is_refused(start, widget):
    widget.allowed_origins = "https://asunnot.example.fi"
    await sync_to_async(widget.save)()
    conversation, token = await start()
    communicator = await connect("/ws/chat/", headers=[(b"origin", b"https://evil.example.com")])
    await send(communicator, {"type": "auth", "token": token})
    assert (await communicator.receive_output(timeout=2))["code"] == 4403
    communicator = await connect("/ws/chat/", headers=[(b"origin", b"https://asunnot.example.fi")])
    await send(communicator, {"type": "auth", "token": token})
    assert (await until(communicator, lambda f: f["type"] == "event"))["event"] == "queued"
    await communicator.disconnect()


async def test_agent_session_socket_needs_our_own_origin(agent, client):
    await sync_to_async(client.force_login)(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"cookie", cookie), (b"origin", b"https://evil.example.com")]
    )
    connected, code = await communicator.connect()
    assert not connected or (await communicator.receive_output(timeout=2))["code"] == 4403
    communicator = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")],
    )
    connected, _ = await communicator.connect()
    assert connected
    presence = await until(communicator, lambda f: f["type"] == "presence")
    assert presence["state"] == "offline"
    await communicator.disconnect()


async def test_an_agent_cannot_touch_other_queues_chats(start, outsider_agent):
    key = await sync_to_async(lambda: Token.objects.create(user=outsider_agent.user).key)()
    conversation, _ = await start()
    cid = str(conversation.pk)
    outsider = await agent_socket(key)
    for frame, code in [
        ({"type": "pick", "conversation_id": cid}, "not_found"),
        ({"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "hi"}, "forbidden"),
        ({"type": "resume", "conversation_id": cid, "after_seq": 0}, "not_found"),
        ({"type": "end", "conversation_id": cid}, "forbidden"),
        ({"type": "accept", "conversation_id": cid}, "offer_gone"),
    ]:
        await send(outsider, frame)
        error = await until(outsider, lambda f: f["type"] == "error")
        assert error["code"] == code, frame
    state = await sync_to_async(lambda: Conversation.objects.get(pk=cid).state)()
    assert state == "queued"
    await outsider.disconnect()


async def test_an_agent_goes_offline_when_no_workspace_socket_is_left(agent, agent_token):
    first, second = await agent_socket(agent_token), await agent_socket(agent_token)
    await send(first, {"type": "presence", "state": "ready"})
    await until(first, lambda f: f["type"] == "presence" and f["state"] == "ready")
    await first.disconnect()
    # The grace-time task finds another tab still open: the agent stays ready.
    assert not await sync_to_async(routing.agent_offline_if_no_socket)(agent_id=agent.pk)
    await second.disconnect()
    assert await sync_to_async(routing.agent_offline_if_no_socket)(agent_id=agent.pk)
    agent_profile = await sync_to_async(AgentProfile.objects.get)(pk=agent.pk)
    assert (agent_profile.presence, agent_profile.presence_reason) == ("offline", "disconnected")


async def test_a_supervisor_logs_an_agent_off_and_sets_presence_live(agent, agent_token, supervisor):
    from rest_framework.test import APIClient

    agent_ws = await agent_socket(agent_token)
    supervisor_api = APIClient()
    supervisor_api.force_authenticate(supervisor)

    def supervise(body):
        return supervisor_api.post(f"/api/v1/agents/{agent.pk}", body, format="json")

    response = await sync_to_async(supervise)({"queue_ids": None, "logged_on": False})
    assert response.status_code == 200
    membership = await until(agent_ws, lambda f: f["type"] == "membership")
    queue_id = await sync_to_async(lambda: agent.queues.get().pk)()
    assert (membership["logged_on"], membership["queue_ids"]) == (False, [queue_id])
    await sync_to_async(supervise)({"state": "away", "reason": "Team meeting"})
    presence = await until(agent_ws, lambda f: f["type"] == "presence" and f["state"] == "away")
    assert presence["reason"] == "Team meeting"

    agent_api = APIClient()
    agent_api.force_authenticate(agent.user)
    refused = await sync_to_async(agent_api.post)(f"/api/v1/agents/{agent.pk}", {"state": "ready"}, format="json")
    assert refused.status_code == 403
    await agent_ws.disconnect()


async def test_reads_reach_the_agent_and_errors_speak_the_customers_language(widget, agent, agent_token):
    conversation, token = await sync_to_async(services.conversation_start)(widget=widget, prechat={}, locale="fi")
    cid = str(conversation.pk)
    agent_ws = await agent_socket(agent_token)
    await send(agent_ws, {"type": "pick", "conversation_id": cid})
    await until(agent_ws, lambda f: f["type"] == "assigned")
    customer = await customer_socket(token)
    joined = await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_joined")
    await send(customer, {"type": "read", "seq": joined["seq"]})
    read = await until(agent_ws, lambda f: f["type"] == "read")
    assert (read["role"], read["seq"], read["conversation_id"]) == ("customer", joined["seq"], cid)
    await send(customer, {"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 4001})
    error = await until(customer, lambda f: f["type"] == "error")
    assert error["message"] == "Viesti voi olla enintään 4000 merkkiä."
    await customer.disconnect()
    await agent_ws.disconnect()


async def test_each_socket_speaks_its_own_language_and_leaves_others_theirs(widget):
    ours = translation.get_language()
    finnish = await sync_to_async(services.conversation_start)(widget=widget, prechat={}, locale="fi")
    swedish = await sync_to_async(services.conversation_start)(widget=widget, prechat={}, locale="sv")
    sockets = {"fi": await customer_socket(finnish[1]), "sv": await customer_socket(swedish[1])}
    expected = {"fi": "Viesti voi olla enintään 4000 merkkiä.", "sv": "Ett meddelande får vara högst 4000 tecken."}
    for _round in range(2):  # interleaved, in one process and one event loop
        for socket in sockets.values():
            await send(socket, {"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 4001})
        for language, socket in sockets.items():
            error = await until(socket, lambda f: f["type"] == "error")
            assert error["message"] == expected[language]
    assert translation.get_language() == ours  # the test's own context is untouched
    for socket in sockets.values():
        await socket.disconnect()


async def test_open_customer_sockets_keep_their_customers_seen_in_one_update(start, monkeypatch):
    monkeypatch.setattr(consumers, "CUSTOMER_HEARTBEAT_SECONDS", 0.2)
    long_ago = "2026-01-01T00:00Z"
    open_one, token_one = await start()
    open_two, token_two = await start()
    closed, token_closed = await start()
    sockets = [await customer_socket(token) for token in (token_one, token_two, token_closed)]
    for socket in sockets:
        await until(socket, lambda f: f["type"] == "queue")
    await sockets[2].disconnect()
    await asyncio.sleep(0.5)  # each socket's own first mark, sent after its queue frame, is in

    def seen_since(conversation) -> bool:
        return Conversation.objects.get(pk=conversation.pk).customer_seen_at.isoformat() > "2026-01-02"

    ids = [open_one.pk, open_two.pk, closed.pk]
    await sync_to_async(Conversation.objects.filter(pk__in=ids).update)(customer_seen_at=long_ago)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not all([await sync_to_async(seen_since)(c) for c in (open_one, open_two)]):
        assert loop.time() < deadline, "the open sockets' customers were not marked seen"
        await asyncio.sleep(0.1)
    assert not await sync_to_async(seen_since)(closed)  # its socket is gone
    stamps = await sync_to_async(
        lambda: set(Conversation.objects.filter(pk__in=ids[:2]).values_list("customer_seen_at", flat=True))
    )()
    assert len(stamps) == 1  # one UPDATE (one timestamp) for both, not one per socket
    for socket in sockets[:2]:
        await socket.disconnect()
