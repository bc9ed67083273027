"""The supervisor's socket `/ws/supervisor/` through the real ASGI app, Redis channel layer and
PostgreSQL: who may open it, the overview and its refreshes, the frames that act on agents,
and listening in on a chat with whispers the customer never sees."""

import json
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its DB connections
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from chat import services
from chat.models import Participant
from contactcenter.asgi import application
from routing import alarms
from routing.models import AgentProfile, QueueMembership
from tests.chat.test_consumers import agent_socket, collect, customer_socket, send, until

pytestmark = pytest.mark.django_db(transaction=True)


async def session_socket(user, path="/ws/supervisor/", origin=b"http://localhost"):
    """A socket opened by one of our pages with the user's session cookie; (communicator, connected)."""
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"cookie", cookie), (b"origin", origin), (b"host", b"localhost")]
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def refused(communicator, connected) -> bool:
    return not connected or (await communicator.receive_output(timeout=3))["code"] == 4403


async def supervisor_socket(user):
    communicator, connected = await session_socket(user)
    assert connected
    overview = await until(communicator, lambda f: f["type"] == "overview")
    return communicator, overview


def agent_row(overview, agent_id):
    return next(a for a in overview["agents"] if a["id"] == agent_id)


@pytest.fixture
def agent_token(agent):
    return Token.objects.create(user=agent.user).key


async def test_only_supervisors_from_our_own_pages(agent, supervisor):
    assert await refused(*await session_socket(agent.user))
    assert await refused(*await session_socket(supervisor, origin=b"https://evil.example.com"))
    # A token works like the workspace's, for supervisors only.
    key = await sync_to_async(lambda: Token.objects.create(user=agent.user).key)()
    communicator = WebsocketCommunicator(application, "/ws/supervisor/")
    assert (await communicator.connect())[0]
    await send(communicator, {"type": "auth", "token": key})
    assert (await communicator.receive_output(timeout=3))["code"] == 4403


async def test_overview_on_connect_and_again_when_an_agent_changes(agent, agent_token, supervisor, widget):
    sup, overview = await supervisor_socket(supervisor)
    [queue] = overview["queues"]
    assert (queue["name"], queue["waiting"], queue["agents_logged_on"]) == ("Housing advice", 0, 0)
    assert agent_row(overview, agent.pk)["presence"] == "offline"

    agent_ws = await agent_socket(agent_token)
    await send(agent_ws, {"type": "presence", "state": "ready"})
    overview = await until(sup, lambda f: f["type"] == "overview" and agent_row(f, agent.pk)["presence"] == "ready")
    assert overview["queues"][0]["agents_ready"] == 1

    # The router offers a new chat to the agent: the figures follow.
    await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    overview = await until(sup, lambda f: f["type"] == "overview" and agent_row(f, agent.pk)["offers"] == 1)
    assert (overview["queues"][0]["offered"], overview["queues"][0]["agents_busy"]) == (1, 1)
    await agent_ws.disconnect()
    await sup.disconnect()


async def test_log_on_and_presence_frames_reach_the_agents_workspace(agent, agent_token, supervisor):
    agent_ws = await agent_socket(agent_token)
    sup, _ = await supervisor_socket(supervisor)
    queue_id = await sync_to_async(lambda: agent.queues.get().pk)()

    await send(sup, {"type": "log_on", "agent_id": agent.pk, "queue_ids": [queue_id], "logged_on": False})
    membership = await until(agent_ws, lambda f: f["type"] == "membership")
    assert (membership["queue_ids"], membership["logged_on"]) == ([queue_id], False)
    await send(sup, {"type": "presence", "agent_id": agent.pk, "state": "not_ready"})
    presence = await until(agent_ws, lambda f: f["type"] == "presence" and f["state"] == "not_ready")
    assert presence["reason"] == "set by sanna"
    overview = await until(sup, lambda f: f["type"] == "overview" and agent_row(f, agent.pk)["presence"] == "not_ready")
    assert agent_row(overview, agent.pk)["queues"] == [{"id": queue_id, "logged_on": False}]

    await send(sup, {"type": "log_on", "agent_id": agent.pk, "queue_ids": None, "logged_on": True})
    membership = await until(agent_ws, lambda f: f["type"] == "membership")
    assert (membership["queue_ids"], membership["logged_on"]) == ([queue_id], True)
    await send(sup, {"type": "presence", "agent_id": agent.pk, "state": "away", "reason": "Coaching"})
    presence = await until(agent_ws, lambda f: f["type"] == "presence" and f["state"] == "away")
    assert presence["reason"] == "Coaching"
    await agent_ws.disconnect()
    await sup.disconnect()


async def test_bad_frames_get_error_frames_and_change_nothing(agent, supervisor, widget):
    sup, _ = await supervisor_socket(supervisor)
    for frame, code in [
        ({"type": "log_on", "agent_id": agent.pk, "logged_on": False}, "invalid"),  # queue_ids left out
        ({"type": "log_on", "agent_id": agent.pk, "queue_ids": ["1"], "logged_on": False}, "invalid"),
        ({"type": "log_on", "agent_id": agent.pk, "queue_ids": None, "logged_on": "no"}, "invalid"),
        ({"type": "log_on", "agent_id": True, "queue_ids": None, "logged_on": False}, "invalid"),
        ({"type": "log_on", "agent_id": 999_999, "queue_ids": None, "logged_on": False}, "not_found"),
        ({"type": "presence", "agent_id": agent.pk, "state": "asleep"}, "invalid"),
        ({"type": "presence", "agent_id": agent.pk, "state": "ready", "reason": 5}, "invalid"),
        ({"type": "presence", "agent_id": "1", "state": "ready"}, "invalid"),
        ({"type": "watch", "conversation_id": "nope"}, "invalid"),
        ({"type": "watch", "conversation_id": str(uuid.uuid4())}, "not_found"),
        ({"type": "whisper", "conversation_id": str(uuid.uuid4()), "text": "hi"}, "forbidden"),
        ({"type": "unwatch", "conversation_id": str(uuid.uuid4())}, "not_found"),
        ({"type": "pick", "conversation_id": str(uuid.uuid4())}, "unknown_type"),
    ]:
        await send(sup, frame)
        error = await until(sup, lambda f: f["type"] == "error")
        assert error["code"] == code, frame
    profile = await sync_to_async(AgentProfile.objects.get)(pk=agent.pk)
    assert (profile.presence, profile.presence_reason) == ("offline", "")
    assert await sync_to_async(QueueMembership.objects.filter(agent=agent, logged_on=True).count)() == 1
    await sup.disconnect()


async def test_listen_and_whisper_the_customer_never_knows(widget, agent, agent_token, supervisor):
    name = await sync_to_async(supervisor.get_full_name)()
    conversation, token = await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    cid = str(conversation.pk)
    agent_ws = await agent_socket(agent_token)
    await send(agent_ws, {"type": "pick", "conversation_id": cid})
    await until(agent_ws, lambda f: f["type"] == "assigned")
    customer = await customer_socket(token)
    await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_joined")

    sup, _ = await supervisor_socket(supervisor)
    await send(sup, {"type": "whisper", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "psst"})
    assert (await until(sup, lambda f: f["type"] == "error"))["code"] == "forbidden"  # not listening yet

    await send(sup, {"type": "watch", "conversation_id": cid})
    watching = await until(sup, lambda f: f["type"] == "watching")
    assert (watching["conversation_id"], watching["queue"]["name"]) == (cid, "Housing advice")
    listening = await until(sup, lambda f: f["type"] == "message" and f.get("internal"))
    assert listening["text"] == f"{name} is listening."
    note = await until(agent_ws, lambda f: f["type"] == "message" and f.get("internal"))
    assert note["text"] == f"{name} is listening."

    await send(customer, {"type": "message", "client_id": str(uuid.uuid4()), "text": "My rent went up"})
    heard = await until(sup, lambda f: f["type"] == "message" and f["author"]["role"] == "customer")
    assert heard["text"] == "My rent went up"
    whisper_id = str(uuid.uuid4())
    whisper_frame = {"type": "whisper", "conversation_id": cid, "client_id": whisper_id, "text": "Ask for the contract"}
    await send(sup, whisper_frame)
    whisper = await until(agent_ws, lambda f: f["type"] == "message" and f.get("client_id") == whisper_id)
    assert (whisper["internal"], whisper["author"]["name"], whisper["text"]) == (True, name, "Ask for the contract")
    await until(sup, lambda f: f["type"] == "message" and f.get("client_id") == whisper_id)
    # A resent whisper is stored once; the stored note answers it.
    await send(sup, whisper_frame)
    again = await until(sup, lambda f: f["type"] == "message" and f.get("client_id") == whisper_id)
    assert again["id"] == whisper["id"]

    await send(sup, {"type": "unwatch", "conversation_id": cid})
    await until(sup, lambda f: f["type"] == "unwatched" and f["conversation_id"] == cid)
    left = await until(agent_ws, lambda f: f["type"] == "message" and f.get("internal") and "stopped" in f["text"])
    assert name in left["text"]
    await send(agent_ws, {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "Hi!"})
    await until(customer, lambda f: f["type"] == "message" and f["text"] == "Hi!")

    seen_by_customer = await collect(customer)
    # Not a note, not the supervisor's name, not a join or leave: nothing at all.
    raw = json.dumps(seen_by_customer)
    assert "internal" not in raw
    assert name not in raw
    assert "contract" not in raw
    assert not any(f["type"] == "event" and f["event"] in ("agent_joined", "agent_left") for f in seen_by_customer)
    replay = await sync_to_async(_customer_replay)(cid)
    assert name not in json.dumps(replay)
    assert [f["event"] for f in replay if f["type"] == "event"] == ["queued", "agent_joined"]
    for ws in (customer, agent_ws, sup):
        await ws.disconnect()


async def test_closing_the_view_stops_listening(widget, agent, supervisor):
    conversation, _ = await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    sup, _ = await supervisor_socket(supervisor)
    await send(sup, {"type": "watch", "conversation_id": str(conversation.pk)})
    await until(sup, lambda f: f["type"] == "watching")
    assert await sync_to_async(_listening)(conversation.pk, supervisor) == 1
    await sup.disconnect()
    assert await sync_to_async(_listening)(conversation.pk, supervisor) == 0


async def test_alarms_open_on_connect_and_live(widget, supervisor):
    widget.queue.alarm_waiting = 1
    await sync_to_async(widget.queue.save)()
    await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    await sync_to_async(alarms.queue_alarms_check)()
    sup, _ = await supervisor_socket(supervisor)
    alarm = await until(sup, lambda f: f["type"] == "alarm")
    assert (alarm["state"], alarm["kind"], alarm["value"]) == ("raised", "waiting", 1)

    widget.queue.alarm_waiting = None
    await sync_to_async(widget.queue.save)()
    await sync_to_async(alarms.queue_alarms_check)()
    cleared = await until(sup, lambda f: f["type"] == "alarm")
    assert (cleared["state"], cleared["queue_id"]) == ("cleared", widget.queue_id)
    await sup.disconnect()


def _listening(conversation_id, user) -> int:
    return Participant.objects.filter(conversation_id=conversation_id, agent=user, left_at__isnull=True).count()


def _customer_replay(conversation_id):
    from chat.selectors import items_after

    return items_after(conversation_id=conversation_id, after_seq=0, for_agent=False)
