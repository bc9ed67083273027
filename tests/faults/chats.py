"""Chats under faults: clients that behave like the widget and the workspace, and the checks.

Each client reconnects after any drop with the widget's back-off, resumes from the last seq it
saw (the customer) or takes the workspace snapshot (the agent), and resends every message not
yet acknowledged with the same client_id (static/widget/chat.js, static/workspace/workspace.js).
Nothing here trusts the server: the checks compare what each participant saw with what
PostgreSQL stored, and every drop, resend and refusal is counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import websockets

# The widget's and the workspace's schedule: 0.5, 1, 2, 4 s, then every 4 s, plus jitter.
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
JITTER_SECONDS = 0.3


def backoff(attempt: int) -> float:
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)] + random.uniform(0, JITTER_SECONDS)  # noqa: S311


@dataclass
class View:
    """One participant's view of one conversation, merged over all its connections by seq."""

    frames: dict[int, dict] = field(default_factory=dict)
    seq_of: dict[str, int] = field(default_factory=dict)  # client_id -> the seq it was shown at
    pending: dict[str, str] = field(default_factory=dict)  # client_id -> text, sent, not acknowledged
    said_at: dict[str, float] = field(default_factory=dict)  # client_id -> when first sent (monotonic)
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> seq of its echo
    refused: dict[str, str] = field(default_factory=dict)  # client_id -> error code
    conflicts: int = 0  # one seq shown with two different contents
    duplicates: int = 0  # one client_id shown at two seqs

    @property
    def last_seq(self) -> int:
        return max(self.frames, default=0)

    def show(self, frame: dict) -> None:
        seq = frame["seq"]
        known = self.frames.get(seq)
        if known is not None:
            if (known.get("client_id"), known.get("text"), known.get("event")) != (
                frame.get("client_id"),
                frame.get("text"),
                frame.get("event"),
            ):
                self.conflicts += 1
            return
        self.frames[seq] = frame
        client_id = frame.get("client_id")
        if client_id is None:
            return
        if self.seq_of.setdefault(client_id, seq) != seq:
            self.duplicates += 1
        if client_id in self.pending:
            del self.pending[client_id]
            self.acked[client_id] = seq
        elif client_id in self.refused:
            # Refused to the sender, stored after all (the commit's answer was lost): the
            # echo arriving later acknowledges it.
            del self.refused[client_id]
            self.acked[client_id] = seq


@dataclass
class Connections:
    """What one client's sockets went through."""

    opened: int = 0
    drops: int = 0
    order_errors: int = 0  # a socket delivered a seq at or below one it had delivered
    reconnect_seconds: list[float] = field(default_factory=list)  # drop -> open again, auth sent
    resume_seconds: list[float] = field(default_factory=list)  # drop -> first frame on the new socket
    closes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # error frames by code


class Client:
    """The reconnect loop both sides share: open, authenticate, resend, read until the socket
    ends, back off, again; until stopped."""

    path = ""

    def __init__(self, ws_base: str):
        self.ws_base = ws_base
        self.ws = None
        self.stats = Connections()
        self.stopping = False
        self.connected = asyncio.Event()
        self._dropped_at: float | None = None
        self.background: set[asyncio.Task] = set()

    async def run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                ws = await websockets.connect(self.ws_base + self.path, open_timeout=10, max_queue=None)
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidMessage):
                await asyncio.sleep(backoff(attempt))
                attempt += 1
                continue
            self.stats.opened += 1
            first_frame = True
            last_seq_on_socket: dict[str, int] = {}
            try:
                await ws.send(json.dumps(self.auth_frame()))
                self.ws = ws
                if self._dropped_at is not None:
                    self.stats.reconnect_seconds.append(time.monotonic() - self._dropped_at)
                await self.opened(ws)
                self.connected.set()
                async for raw in ws:
                    frame = json.loads(raw)
                    if first_frame and self._dropped_at is not None:
                        self.stats.resume_seconds.append(time.monotonic() - self._dropped_at)
                    first_frame = False
                    attempt = 0
                    if "seq" in frame:
                        key = frame.get("conversation_id", "")
                        if frame["seq"] <= last_seq_on_socket.get(key, self.socket_start_seq(key)):
                            self.stats.order_errors += 1
                        last_seq_on_socket[key] = frame["seq"]
                    self.received(frame)
            except (websockets.ConnectionClosed, OSError):
                pass
            finally:
                self.ws = None
                self.connected.clear()
            self.stats.closes[ws.close_code] += 1
            if self.stopping:
                return
            self.stats.drops += 1
            self._dropped_at = time.monotonic()
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def send(self, frame: dict) -> None:
        ws = self.ws
        if ws is None:
            return  # sent on reconnect, as the widget does
        try:
            await ws.send(json.dumps(frame))
        except (websockets.ConnectionClosed, OSError):
            pass

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            await self.ws.close()

    # What each side fills in.
    def auth_frame(self) -> dict:
        raise NotImplementedError

    def socket_start_seq(self, conversation_id: str) -> int:
        return 0

    async def opened(self, ws) -> None:
        """Just authenticated on a new socket: resend what is not acknowledged."""

    def received(self, frame: dict) -> None:
        raise NotImplementedError

    def refused(self, view: View, error: dict, message: dict) -> None:
        """An error frame: over the rate limit, the message goes again in a second (as the
        widget and the workspace do); any other refusal of a pending message is final."""
        self.stats.errors[error["code"]] += 1
        client_id = error.get("client_id")
        if client_id not in view.pending:
            return
        if error["code"] == "rate_limited":
            frame = {**message, "client_id": client_id, "text": view.pending[client_id]}
            asyncio.get_running_loop().call_later(1.0 + random.uniform(0, 0.5), self._send_if_pending, view, frame)  # noqa: S311
            return
        del view.pending[client_id]
        view.refused[client_id] = error["code"]

    def _send_if_pending(self, view: View, frame: dict) -> None:
        if frame["client_id"] in view.pending:
            self.background.add(task := asyncio.ensure_future(self.send(frame)))
            task.add_done_callback(self.background.discard)


class Customer(Client):
    path = "/ws/chat/"

    def __init__(self, ws_base: str, conversation_id: str, token: str):
        super().__init__(ws_base)
        self.conversation_id = conversation_id
        self.token = token
        self.view = View()
        self._resumed_from = 0

    def auth_frame(self) -> dict:
        self._resumed_from = self.view.last_seq
        return {"type": "auth", "token": self.token, "after_seq": self._resumed_from}

    def socket_start_seq(self, conversation_id: str) -> int:
        return self._resumed_from

    async def opened(self, ws) -> None:
        for client_id, text in list(self.view.pending.items()):
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))

    def received(self, frame: dict) -> None:
        if frame["type"] in ("message", "event"):
            self.view.show(frame)
        elif frame["type"] == "error":
            self.refused(self.view, frame, {"type": "message"})

    async def say(self, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.view.pending[client_id] = text
        self.view.said_at[client_id] = time.monotonic()
        await self.send({"type": "message", "client_id": client_id, "text": text})


class Agent(Client):
    path = "/ws/agent/"

    def __init__(self, ws_base: str, token: str):
        super().__init__(ws_base)
        self.token = token
        self.views: dict[str, View] = {}
        self.ready = asyncio.Event()

    def auth_frame(self) -> dict:
        return {"type": "auth", "token": self.token}

    async def opened(self, ws) -> None:
        await ws.send(json.dumps({"type": "presence", "state": "ready"}))
        for conversation_id, view in self.views.items():
            for client_id, text in list(view.pending.items()):
                await ws.send(
                    json.dumps(
                        {"type": "message", "conversation_id": conversation_id, "client_id": client_id, "text": text}
                    )
                )

    def received(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "presence" and frame.get("state") == "ready":
            self.ready.set()
        elif kind == "assigned":
            self.views.setdefault(frame["conversation_id"], View())
        elif kind in ("message", "event") and frame.get("conversation_id") in self.views:
            self.views[frame["conversation_id"]].show(frame)
        elif kind == "error" and frame.get("conversation_id") in self.views:
            view = self.views[frame["conversation_id"]]
            self.refused(view, frame, {"type": "message", "conversation_id": frame["conversation_id"]})
        elif kind == "error":
            self.stats.errors[frame["code"]] += 1

    async def say(self, conversation_id: str, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.views[conversation_id].pending[client_id] = text
        self.views[conversation_id].said_at[client_id] = time.monotonic()
        await self.send({"type": "message", "conversation_id": conversation_id, "client_id": client_id, "text": text})


@dataclass
class Chat:
    conversation_id: str
    customer: Customer
    agent: Agent


class ChatLoad:
    """N conversations between customers and agents, each side saying something every
    `2 / rate_per_chat` seconds at its own phase: `rate_per_chat` messages/s per chat."""

    def __init__(self, base_url: str, widget_key: str, agent_tokens: list[str], *, chats: int, rate_per_chat: float):
        self.base_url = base_url
        self.ws_base = base_url.replace("http", "ws", 1)
        self.widget_key = widget_key
        self.agents = [Agent(self.ws_base, token) for token in agent_tokens]
        self.chats_wanted = chats
        self.interval = 2 / rate_per_chat
        self.chats: list[Chat] = []
        self.tasks: list[asyncio.Task] = []
        self.sent = 0
        self._talking: asyncio.Task | None = None

    async def start(self) -> None:
        """Agents log on and get ready; customers start their chats, which go straight to them."""
        self.tasks += [asyncio.create_task(agent.run()) for agent in self.agents]
        await self._within(30, "agents ready", lambda: sum(agent.ready.is_set() for agent in self.agents))
        starting = asyncio.Semaphore(10)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:

            async def start_chat() -> Customer:
                async with starting:
                    response = await http.post(f"/api/v1/widget/{self.widget_key}/conversations", json={"prechat": {}})
                response.raise_for_status()
                started = response.json()
                return Customer(self.ws_base, started["conversation_id"], started["customer_token"])

            customers = await asyncio.gather(*(start_chat() for _ in range(self.chats_wanted)))
        self.tasks += [asyncio.create_task(customer.run()) for customer in customers]

        def owners() -> dict[str, Agent]:
            return {cid: agent for agent in self.agents for cid in agent.views}

        await self._within(
            60, "chats assigned", lambda: sum(customer.conversation_id in owners() for customer in customers)
        )
        await self._within(30, "customers connected", lambda: sum(c.connected.is_set() for c in customers))
        self.chats = [Chat(c.conversation_id, c, owners()[c.conversation_id]) for c in customers]

    async def _within(self, seconds: float, what: str, count) -> None:
        wanted = len(self.agents) if what == "agents ready" else self.chats_wanted
        deadline = asyncio.get_running_loop().time() + seconds
        while (done := count()) < wanted:
            if asyncio.get_running_loop().time() > deadline:
                closes = sum((client.stats.closes for client in self.agents), Counter())
                raise AssertionError(f"{what}: {done} of {wanted} after {seconds} s; agent socket closes {closes}")
            await asyncio.sleep(0.1)

    def talk(self) -> None:
        self._talking = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        slots = [(i * self.interval / (2 * len(self.chats)), chat, "customer") for i, chat in enumerate(self.chats)]
        slots += [(self.interval / 2 + phase, chat, "agent") for phase, chat, _ in slots]
        slots.sort(key=lambda slot: slot[0])
        round_ = 0
        while True:
            for phase, chat, side in slots:
                delay = start + round_ * self.interval + phase - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = f"{side} {round_}"
                if side == "customer":
                    await chat.customer.say(text)
                else:
                    await chat.agent.say(chat.conversation_id, text)
                self.sent += 1
            round_ += 1

    async def quiet(self) -> None:
        """Stop saying anything new; the clients keep their sockets and their resends."""
        if self._talking is not None:
            self._talking.cancel()
            await asyncio.gather(self._talking, return_exceptions=True)

    async def stop(self) -> None:
        await self.quiet()
        for client in self.agents + [chat.customer for chat in self.chats]:
            await client.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def views(self):
        """(conversation_id, participant, view) for both sides of every chat."""
        for chat in self.chats:
            yield chat.conversation_id, "customer", chat.customer.view
            yield chat.conversation_id, "agent", chat.agent.views[chat.conversation_id]

    def clients(self) -> list[Client]:
        return self.agents + [chat.customer for chat in self.chats]

    def client_of(self, conversation_id: str, participant: str) -> Client:
        chat = next(chat for chat in self.chats if chat.conversation_id == conversation_id)
        return chat.customer if participant == "customer" else chat.agent


@dataclass
class Verdict:
    sent: int
    stored: int
    acknowledged: int
    refused: Counter
    unsettled: int  # sent, neither acknowledged nor refused
    lost: int  # acknowledged, then missing from the database or from a participant's view
    duplicated: int
    order_errors: int
    conflicts: int
    drops: int
    reconnect_p95: float
    resume_p95: float

    @property
    def clean(self) -> bool:
        return not (self.unsettled or self.lost or self.duplicated or self.order_errors or self.conflicts)

    def line(self) -> str:
        refused = sum(self.refused.values())
        codes = ", ".join(f"{code} {count}" for code, count in self.refused.most_common()) or "none"
        return (
            f"sent {self.sent}, stored {self.stored}, acknowledged {self.acknowledged}, refused {refused} ({codes}), "
            f"unsettled {self.unsettled}, lost {self.lost}, duplicated {self.duplicated}, "
            f"order errors {self.order_errors}, drops {self.drops}, reconnect p95 {self.reconnect_p95:.2f} s, "
            f"resume p95 {self.resume_p95:.2f} s"
        )


def stored_history(conversation_ids: list[str]) -> dict[str, dict[int, str | None]]:
    """conversation_id -> {seq: client_id} of every frame both participants may see."""
    from chat.models import ConversationEvent, Message

    history: dict[str, dict[int, str | None]] = {cid: {} for cid in conversation_ids}
    messages = Message.objects.filter(conversation_id__in=conversation_ids, internal=False)
    for conversation_id, seq, client_id in messages.values_list("conversation_id", "seq", "client_id"):
        history[str(conversation_id)][seq] = str(client_id) if client_id else None
    events = ConversationEvent.objects.filter(conversation_id__in=conversation_ids)
    for conversation_id, seq in events.values_list("conversation_id", "seq"):
        history[str(conversation_id)][seq] = None
    return history


def duplicate_client_ids(conversation_ids: list[str]) -> int:
    """Messages stored twice under one client_id (the unique constraint says none can be)."""
    from django.db.models import Count

    from chat.models import Message

    return (
        Message.objects.filter(conversation_id__in=conversation_ids, client_id__isnull=False)
        .values("conversation_id", "client_id")
        .annotate(copies=Count("id"))
        .filter(copies__gt=1)
        .count()
    )


def unseen(load: ChatLoad, history: dict[str, dict[int, str | None]]) -> int:
    """(participant, stored frame) pairs the participant has not seen as stored."""
    missing = 0
    for conversation_id, _participant, view in load.views():
        for seq, client_id in history[conversation_id].items():
            shown = view.frames.get(seq)
            if shown is None or shown.get("client_id") != client_id:
                missing += 1
    return missing


def unsettled(load: ChatLoad) -> int:
    """Messages sent and neither acknowledged nor refused yet."""
    return sum(len(view.pending) for _, _, view in load.views())


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def verdict(load: ChatLoad, history: dict[str, dict[int, str | None]], db_duplicates: int) -> Verdict:
    stored_ids = {cid: {client_id for client_id in frames.values() if client_id} for cid, frames in history.items()}
    acknowledged = lost = duplicated = conflicts = 0
    refused: Counter = Counter()
    for conversation_id, _participant, view in load.views():
        acknowledged += len(view.acked)
        refused.update(view.refused.values())
        duplicated += view.duplicates
        conflicts += view.conflicts
        lost += sum(1 for client_id in view.acked if client_id not in stored_ids[conversation_id])
    # And every stored frame must reach both participants, once, at its seq.
    lost += unseen(load, history)
    stats = [client.stats for client in load.clients()]
    return Verdict(
        sent=load.sent,
        stored=sum(len(ids) for ids in stored_ids.values()),
        acknowledged=acknowledged,
        refused=refused,
        unsettled=unsettled(load),
        lost=lost,
        duplicated=duplicated + db_duplicates,
        order_errors=sum(s.order_errors for s in stats),
        conflicts=conflicts,
        drops=sum(s.drops for s in stats),
        reconnect_p95=percentile([x for s in stats for x in s.reconnect_seconds], 0.95),
        resume_p95=percentile([x for s in stats for x in s.resume_seconds], 0.95),
    )
