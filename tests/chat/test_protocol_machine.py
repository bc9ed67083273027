"""A property-based test of the chat protocol (hypothesis' RuleBasedStateMachine).

A customer and two agents in a conference send, resend, type, drop their sockets and come
back, in any order. After every step each connected client's view — the public frames it
has received, merged over its connections by seq — equals the stored history it may see
(`selectors.items_after`), and every single connection delivered its frames in seq order,
without a repeat and without skipping one it should have had."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.authtoken.models import Token

from chat import handover, selectors, services
from chat.models import Conversation, Message
from contactcenter.asgi import application
from routing import services as routing
from routing.models import AgentProfile, QueueMembership, WorkItem
from tests.factories import AgentProfileFactory, UserFactory, WidgetFactory

pytestmark = pytest.mark.django_db(transaction=True)

SYNC_SECONDS = 10
# A blank message is refused (`invalid`), so it is not something to wait for.
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö !?", min_size=1, max_size=12).filter(str.strip)


class Loop:
    """One event loop in a thread of its own: the machine's rules are plain functions."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout=SYNC_SECONDS + 5):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Client:
    def __init__(self, name: str, *, agent: bool):
        self.name, self.agent = name, agent
        self.socket: WebsocketCommunicator | None = None
        self.view: dict[int, dict] = {}  # seq -> public frame, over every connection
        self.connection_seqs: list[int] = []  # seqs this connection delivered, in order
        self.after_seq = 0  # where this connection's replay started
        self.sent: list[tuple[str, str]] = []  # (client_id, text)

    def frame_of_ours(self, frame: dict, conversation_id: str) -> bool:
        if frame.get("type") not in ("message", "event") or frame.get("internal"):
            return False
        return not self.agent or frame.get("conversation_id") == conversation_id


class ChatProtocol(RuleBasedStateMachine):
    world: dict = {}  # set by the test: loop, widget, agents, tokens

    @initialize()
    def start_a_conference(self):
        close_old_connections()
        world = self.world
        self.loop: Loop = world["loop"]
        AgentProfile.objects.filter(pk=world["first"].pk).update(presence="ready")
        conversation, self.customer_token = services.conversation_start(widget=world["widget"], prechat={})
        self.conversation_id = str(conversation.pk)
        item = WorkItem.objects.get(reference=self.conversation_id)
        assert item.state == "offered"
        routing.offer_accept(agent=world["first"], item_id=item.pk)
        AgentProfile.objects.filter(pk=world["first"].pk).update(presence="not_ready")
        invitation = handover.invite(
            conversation_id=self.conversation_id, sender=world["first"].user,
            receiver_id=world["second"].user_id, kind="conference",
        )  # fmt: skip
        handover.invitation_accept(invitation_id=invitation.pk, user=world["second"].user)
        self.clients = {
            "customer": Client("customer", agent=False),
            "first_agent": Client("first_agent", agent=True),
            "second_agent": Client("second_agent", agent=True),
        }
        self.initial_messages = self._stored_messages()
        for client in self.clients.values():
            self._connect(client)

    # --- the clients' moves ---------------------------------------------------------------

    def _connected(self) -> list[str]:
        return [name for name, client in self.clients.items() if client.socket is not None]

    def _gone(self) -> list[str]:
        return [name for name, client in self.clients.items() if client.socket is None]

    @precondition(lambda self: self._connected())
    @rule(data=st.data(), text=TEXT)
    def send(self, data, text):
        client = self.clients[data.draw(st.sampled_from(self._connected()))]
        client_id = str(uuid.uuid4())
        client.sent.append((client_id, text))
        self._send(client, {"type": "message", "client_id": client_id, "text": text})
        self.loop.run(self._stored_soon(client_id))

    @precondition(lambda self: any(self.clients[name].sent for name in self._connected()))
    @rule(data=st.data())
    def resend(self, data):
        """The same message again, as after a lost acknowledgement: stored once."""
        names = [name for name in self._connected() if self.clients[name].sent]
        client = self.clients[data.draw(st.sampled_from(names))]
        client_id, text = data.draw(st.sampled_from(client.sent))
        self._send(client, {"type": "message", "client_id": client_id, "text": text})

    @precondition(lambda self: self._connected())
    @rule(data=st.data(), active=st.booleans())
    def typing(self, data, active):
        client = self.clients[data.draw(st.sampled_from(self._connected()))]
        self._send(client, {"type": "typing", "active": active})

    @precondition(lambda self: self._connected())
    @rule(data=st.data())
    def drop(self, data):
        client = self.clients[data.draw(st.sampled_from(self._connected()))]
        self.loop.run(client.socket.disconnect())
        client.socket = None

    @precondition(lambda self: self._gone())
    @rule(data=st.data())
    def come_back(self, data):
        self._connect(self.clients[data.draw(st.sampled_from(self._gone()))])

    # --- the property ---------------------------------------------------------------------

    @precondition(lambda self: hasattr(self, "clients"))
    @invariant()
    def every_view_equals_the_stored_history(self):
        for client in self.clients.values():
            expected = self._stored(client)
            if client.socket is not None:
                self.loop.run(self._receive_until(client, expected[-1]["seq"] if expected else 0))
                # This connection: its replay from after_seq on, then live frames, in order.
                should = [frame["seq"] for frame in expected if frame["seq"] > client.after_seq]
                assert client.connection_seqs == should[: len(client.connection_seqs)], client.name
                assert client.connection_seqs == should, client.name
                assert sorted(client.view) == [frame["seq"] for frame in expected], client.name
            else:
                assert set(client.view) <= {frame["seq"] for frame in expected}, client.name
            for frame in expected:
                if frame["seq"] in client.view and frame["type"] == "message":
                    assert client.view[frame["seq"]]["text"] == frame["text"], client.name
        # Every message sent is stored once, however often it was resent.
        sent = {client_id for client in self.clients.values() for client_id, _ in client.sent}
        assert self._stored_messages() == self.initial_messages + len(sent)
        assert Message.objects.filter(conversation_id=self.conversation_id, client_id__in=sent).count() == len(sent)

    def teardown(self):
        for client in getattr(self, "clients", {}).values():
            if client.socket is not None:
                self.loop.run(client.socket.disconnect())
        if hasattr(self, "conversation_id"):
            services.conversation_end(conversation_id=self.conversation_id, ended_by=Conversation.EndedBy.SYSTEM)
        close_old_connections()

    # --- plumbing -------------------------------------------------------------------------

    def _stored_messages(self) -> int:
        return Message.objects.filter(conversation_id=self.conversation_id, internal=False).count()

    async def _stored_soon(self, client_id: str) -> None:
        """A send is acknowledged by its stored echo; wait for the row, not the frame."""
        exists = sync_to_async(Message.objects.filter(client_id=client_id).exists)
        async with asyncio.timeout(SYNC_SECONDS):
            while not await exists():  # noqa: ASYNC110 - the row is in another process's hands
                await asyncio.sleep(0.01)

    def _stored(self, client: Client) -> list[dict]:
        frames = selectors.items_after(conversation_id=self.conversation_id, after_seq=0, for_agent=client.agent)
        return [frame for frame in frames if not frame.get("internal")]

    def _send(self, client: Client, frame: dict) -> None:
        if client.agent:
            frame = {**frame, "conversation_id": self.conversation_id}
        self.loop.run(client.socket.send_to(text_data=json.dumps(frame)))

    def _connect(self, client: Client) -> None:
        client.after_seq = max(client.view, default=0) if not client.agent else 0
        client.connection_seqs = []

        async def open_socket():
            socket = WebsocketCommunicator(application, "/ws/agent/" if client.agent else "/ws/chat/")
            connected, _ = await socket.connect()
            assert connected
            if client.agent:
                token = self.world["tokens"][client.name]
                await socket.send_to(text_data=json.dumps({"type": "auth", "token": token}))
            else:
                auth = {"type": "auth", "token": self.customer_token, "after_seq": client.after_seq}
                await socket.send_to(text_data=json.dumps(auth))
            return socket

        client.socket = self.loop.run(open_socket())

    async def _receive_until(self, client: Client, last_seq: int) -> None:
        """Frames until this connection has delivered `last_seq`, then whatever else is
        already there (a repeat would show)."""
        async with asyncio.timeout(SYNC_SECONDS):
            while max(client.connection_seqs, default=client.after_seq) < last_seq:
                self._take(client, json.loads(await client.socket.receive_from()))
        while not await client.socket.receive_nothing(timeout=0.05):
            self._take(client, json.loads(await client.socket.receive_from()))

    def _take(self, client: Client, frame: dict) -> None:
        if not client.frame_of_ours(frame, self.conversation_id):
            return
        client.connection_seqs.append(frame["seq"])
        client.view[frame["seq"]] = frame


def test_every_client_sees_the_stored_history_whatever_happens(roles, queue):
    widget = WidgetFactory(queue=queue)
    first = AgentProfileFactory(user=UserFactory(username="first", roles=["Agent"]), chat_capacity=8)
    second = AgentProfileFactory(user=UserFactory(username="second", roles=["Agent"]), presence="not_ready")
    for agent in (first, second):
        QueueMembership.objects.create(agent=agent, queue=queue)
    tokens = {
        "first_agent": Token.objects.create(user=first.user).key,
        "second_agent": Token.objects.create(user=second.user).key,
    }
    loop = Loop()
    ChatProtocol.world = {"loop": loop, "widget": widget, "first": first, "second": second, "tokens": tokens}
    try:
        run_state_machine_as_test(
            ChatProtocol,
            settings=settings(
                max_examples=12,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )
    finally:
        loop.stop()
