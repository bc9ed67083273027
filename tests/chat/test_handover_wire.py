"""Consultation, transfer and links over the real sockets: the customer never receives a note
or a consultant's presence, on the live socket or on resume."""

import json
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from rest_framework.authtoken.models import Token

from chat import services
from routing import services as routing
from routing.models import WorkItem
from tests.chat.test_consumers import agent_socket, collect, customer_socket, send, until
from tests.factories import QueueMembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _answered(widget, agent):
    conversation, token = services.conversation_start(widget=widget, prechat={})
    routing.work_item_pick(agent=agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    return str(conversation.pk), token


def _colleague(queue):
    olga = QueueMembershipFactory(queue=queue, agent__user__username="olga", agent__user__first_name="Olga").agent
    routing.presence_set(agent=olga, presence="not_ready")
    return olga, Token.objects.create(user=olga.user).key


async def test_consult_then_transfer_over_the_wire(widget, agent):
    cid, customer_token = await sync_to_async(_answered)(widget, agent)
    olga, olga_key = await sync_to_async(_colleague)(widget.queue)
    aino_ws = await agent_socket(await sync_to_async(lambda: Token.objects.create(user=agent.user).key)())
    olga_ws = await agent_socket(olga_key)
    customer = await customer_socket(customer_token)
    await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_joined")

    # Consultation: Olga sees the chat and writes notes; the customer sees none of it.
    await send(aino_ws, {"type": "invite", "conversation_id": cid, "user_id": olga.user_id, "kind": "consultation",
                         "note": "Rent arrears?"})  # fmt: skip
    invitation = await until(olga_ws, lambda f: f["type"] == "invitation" and f["state"] == "pending")
    assert (invitation["kind"], invitation["note"], invitation["receiver_id"]) == (
        "consultation",
        "Rent arrears?",
        olga.user_id,
    )
    await send(olga_ws, {"type": "invitation_accept", "id": invitation["id"]})
    assigned = await until(olga_ws, lambda f: f["type"] == "assigned")
    assert (assigned["conversation_id"], assigned["role"]) == (cid, "consultant")
    await send(
        olga_ws, {"type": "note", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "Yes, send it"}
    )
    await until(aino_ws, lambda f: f["type"] == "message" and f.get("text") == "Yes, send it" and f.get("internal"))
    await send(olga_ws, {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": "Hi!"})
    refused = await until(olga_ws, lambda f: f["type"] == "error")
    assert refused["code"] == "forbidden"
    await send(olga_ws, {"type": "leave", "conversation_id": cid})
    await until(olga_ws, lambda f: f["type"] == "left" and f["conversation_id"] == cid)

    # A link under an alias reaches the customer with its address.
    await send(aino_ws, {"type": "link", "conversation_id": cid, "client_id": str(uuid.uuid4()),
                         "url": "https://example.fi/opas", "text": "Guide"})  # fmt: skip
    link = await until(customer, lambda f: f["type"] == "message" and f.get("link"))
    assert (link["text"], link["link"]) == ("Guide", "https://example.fi/opas")
    await send(aino_ws, {"type": "link", "conversation_id": cid, "url": "javascript:alert(1)", "text": "x"})
    assert (await until(aino_ws, lambda f: f["type"] == "error"))["code"] == "invalid"

    # Transfer: Olga takes over; Aino's workspace lets the chat go; the customer is told.
    await send(aino_ws, {"type": "invite", "conversation_id": cid, "user_id": olga.user_id, "kind": "transfer"})
    invitation = await until(olga_ws, lambda f: f["type"] == "invitation" and f["kind"] == "transfer")
    await send(olga_ws, {"type": "invitation_accept", "id": invitation["id"]})
    await until(olga_ws, lambda f: f["type"] == "assigned" and f["role"] == "agent")
    await until(aino_ws, lambda f: f["type"] == "left" and f["conversation_id"] == cid)
    answered = await until(aino_ws, lambda f: f["type"] == "invitation" and f["state"] == "accepted")
    assert answered["to"].startswith("Olga")
    await until(customer, lambda f: f["type"] == "event" and f["event"] == "agent_left")

    live = await collect(customer, quiet=0.3)
    await customer.disconnect()
    resumed = await customer_socket(customer_token, after_seq=0)
    replay = await collect(resumed)
    await resumed.disconnect()
    for frames in (live, replay):
        text = json.dumps(frames)
        assert "Rent arrears" not in text
        assert "Yes, send it" not in text
        assert "consulting" not in text
        assert not any(f.get("internal") for f in frames)
    events = [f["event"] for f in replay if f["type"] == "event"]
    assert events.count("agent_joined") == 2  # Aino, then Olga: never the consultant
    assert events[-3:] == ["transferred", "agent_joined", "agent_left"]
    for ws in (aino_ws, olga_ws):
        await ws.disconnect()


async def test_bad_handover_frames_get_error_frames(widget, agent):
    cid, _ = await sync_to_async(_answered)(widget, agent)
    aino_ws = await agent_socket(await sync_to_async(lambda: Token.objects.create(user=agent.user).key)())
    for frame, code in [
        ({"type": "invite", "conversation_id": cid, "user_id": "x", "kind": "transfer"}, "invalid"),
        ({"type": "invite", "conversation_id": cid, "user_id": True, "kind": "transfer"}, "invalid"),
        ({"type": "invite", "conversation_id": cid, "user_id": 999999, "kind": "transfer"}, "not_found"),
        ({"type": "invitation_accept", "id": "nope"}, "invalid"),
        ({"type": "invitation_accept", "id": str(uuid.uuid4())}, "not_found"),
        ({"type": "transfer", "conversation_id": cid, "queue_id": "1"}, "invalid"),
        ({"type": "transfer", "conversation_id": cid, "queue_id": 1, "stay": "yes"}, "invalid"),
        ({"type": "transfer", "conversation_id": cid, "queue_id": 999999}, "not_found"),
        ({"type": "leave", "conversation_id": cid}, "last_agent"),
    ]:
        await send(aino_ws, frame)
        error = await until(aino_ws, lambda f: f["type"] == "error")
        assert error["code"] == code, frame
    await aino_ws.disconnect()
