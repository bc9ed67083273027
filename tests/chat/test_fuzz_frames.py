"""Hostile frames on the customer and the agent socket: no server error, only documented answers.

CC_FUZZ_FRAMES frames in all (default 10,000), half on each socket, from a seeded generator:
bad JSON, binary frames, JSON that is not an object, unknown and wrongly typed `type`s,
every known frame type with fields of the wrong type, out of range, huge, or naming the real
conversation, and frames over the size limit. Afterwards each socket is still open (or closed
with a documented code), every error frame carries a code docs/protocol.md lists, nothing was
logged at ERROR and the stored conversation is whole."""

import json
import logging
import os
import random
import re
import string
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from chat import consumers, services
from chat.models import Message
from contactcenter.asgi import application
from routing.models import WorkItem
from tests.chat.test_consumers import send, until

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = int(os.environ.get("CC_FUZZ_FRAMES", "10000"))
PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOCUMENTED_CLOSE_CODES = {4401, 4403}

CUSTOMER_TYPES = ["message", "typing", "read", "end", "rating", "transcript", "auth"]
AGENT_TYPES = [
    "presence", "accept", "decline", "pick", "message", "note", "typing", "resume", "read", "end", "link",
    "invite", "invitation_accept", "invitation_decline", "invitation_withdraw", "transfer", "leave", "log_on", "auth",
]  # fmt: skip
ENDING = {"end", "leave", "transfer"}
FIELDS = [
    "text", "client_id", "conversation_id", "after_seq", "seq", "active", "state", "reason", "score", "comment",
    "email", "url", "alias", "id", "user_id", "queue_id", "to", "kind", "note", "stay", "queue_ids", "logged_on",
    "token", "name",
]  # fmt: skip


def documented_error_codes() -> set[str]:
    """Every error code docs/protocol.md names in its lists of socket errors."""
    text = PROTOCOL.read_text()
    codes: set[str] = set()
    for paragraph in re.findall(r"(?:Errors keep the socket open|`error` `\{)[^\n]*(?:\n  [^\n]*)*", text):
        codes |= set(re.findall(r"`([a-z_]+)`", paragraph))
    return codes - {"error", "code", "message", "conversation_id", "client_id"}


def odd_value(rng: random.Random, conversation_id: str):
    choices = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.random() * 1e308,
        lambda: float("nan") if rng.random() < 0.5 else -0.0,
        lambda: "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40))),
        lambda: "\u0000\u202e<script>alert(1)</script>\ud800"[: rng.randint(0, 30)],
        lambda: "x" * rng.choice([5001, 70_000]),
        lambda: [rng.randint(0, 9) for _ in range(rng.randint(0, 5))],
        lambda: {"nested": {"deeper": [None, {}]}},
        lambda: str(uuid.uuid4()),
        lambda: conversation_id,
        lambda: "hello",
        lambda: rng.randint(0, 5),
    ]
    return rng.choice(choices)()


def plausible_value(rng: random.Random, field: str, conversation_id: str):
    """What a well-behaved client would send in this field, so frames get past validation."""
    values = {
        "text": lambda: rng.choice(["Hei", "Kiitos!", " ", "a" * 4000]),
        "client_id": lambda: str(uuid.uuid4()) if rng.random() < 0.8 else "resend-" + str(rng.randint(0, 3)),
        "conversation_id": lambda: conversation_id,
        "after_seq": lambda: rng.randint(0, 12),
        "seq": lambda: rng.randint(0, 12),
        "active": lambda: rng.choice([True, False]),
        "state": lambda: rng.choice(["ready", "not_ready", "away", "offline"]),
        "score": lambda: rng.randint(0, 6),
        "email": lambda: rng.choice(["asiakas@example.fi", "not-an-email"]),
        "url": lambda: rng.choice(["https://example.fi/ohje", "javascript:alert(1)", "ftp://x"]),
        "id": lambda: str(uuid.uuid4()),
        "queue_ids": lambda: [rng.randint(1, 3)],
    }
    return values.get(field, lambda: odd_value(rng, conversation_id))()


def fuzzed_frame(rng: random.Random, types: list[str], conversation_id: str) -> str | bytes:
    kind = rng.random()
    if kind < 0.05:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    if kind < 0.12:
        return "".join(rng.choice('{}[]":,0123456789abc\\ ') for _ in range(rng.randint(0, 60)))
    if kind < 0.17:
        return json.dumps(rng.choice([[], [1, 2], 42, "text", None, True, 3.5]))
    if kind < 0.19:
        return json.dumps({"type": "message", "text": "y" * (consumers.MAX_FRAME_BYTES + 10)})
    frame: dict = {}
    roll = rng.random()
    if roll < 0.08:
        frame["type"] = odd_value(rng, conversation_id)
    elif roll < 0.15:
        frame["type"] = rng.choice(["", "frame_message", "__init__", "close", "dispatch", "Message", "x" * 100])
    elif roll > 0.98:
        pass  # no type at all
    else:
        frame["type"] = rng.choice(types)
        if frame["type"] in ENDING and rng.random() < 0.95:
            frame["type"] = "typing"  # keep the chat alive for most of the run
    for field in rng.sample(FIELDS, rng.randint(0, 6)):
        frame[field] = odd_value(rng, conversation_id)
    if rng.random() < 0.6:  # a plausible frame with one or two fields gone wrong
        for field in ("conversation_id", "client_id", "text", "state", "active", "after_seq"):
            if rng.random() < 0.7:
                frame[field] = plausible_value(rng, field, conversation_id)
    try:
        return json.dumps(frame, allow_nan=True)
    except (TypeError, ValueError):
        return json.dumps({"type": frame.get("type") if isinstance(frame.get("type"), str) else "x"})


class Unlimited:
    """The per-socket rate limit off: otherwise most frames would only meet `rate_limited`."""

    def __init__(self, **kwargs):
        pass

    def allow(self) -> bool:
        return True


async def pour(socket, frames) -> None:
    for frame in frames:
        # Straight to the application: the test client refuses empty frames, a browser not.
        key = "bytes" if isinstance(frame, bytes) else "text"
        await socket.send_input({"type": "websocket.receive", key: frame})


async def drain(socket, *, quiet=2.0) -> tuple[list[dict], int | None]:
    """Every frame until the socket is quiet; and its close code, if it closed."""
    frames = []
    while not await socket.receive_nothing(timeout=quiet):
        output = await socket.receive_output()
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        frames.append(json.loads(output["text"]))
    return frames, None


async def test_ten_thousand_hostile_frames_meet_only_documented_answers(widget, agent, monkeypatch, caplog):
    monkeypatch.setattr(consumers, "RateLimiter", Unlimited)
    caplog.set_level(logging.ERROR)
    conversation, token = await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    conversation_id = str(conversation.pk)
    key = (await sync_to_async(Token.objects.create)(user=agent.user)).key
    rng = random.Random(2026)  # noqa: S311 - reproducible noise, not a secret
    documented = documented_error_codes()
    assert {"invalid", "unknown_type", "too_large", "offer_gone", "forbidden"} <= documented

    customer = WebsocketCommunicator(application, "/ws/chat/")
    assert (await customer.connect())[0]
    await send(customer, {"type": "auth", "token": token})
    agent_socket = WebsocketCommunicator(application, "/ws/agent/")
    assert (await agent_socket.connect())[0]
    await send(agent_socket, {"type": "auth", "token": key})
    await send(agent_socket, {"type": "presence", "state": "ready"})
    await until(agent_socket, lambda frame: frame["type"] == "offer")

    seen_codes: dict[str, int] = {}
    for socket, types in ((customer, CUSTOMER_TYPES), (agent_socket, AGENT_TYPES)):
        frames = [fuzzed_frame(rng, types, conversation_id) for _ in range(FRAMES // 2)]
        await pour(socket, frames)
        answers, closed_with = await drain(socket)
        assert not socket.future.done() or socket.future.exception() is None, "the consumer crashed"
        assert closed_with is None or closed_with in DOCUMENTED_CLOSE_CODES
        for answer in answers:
            if answer["type"] == "error":
                seen_codes[answer["code"]] = seen_codes.get(answer["code"], 0) + 1
                assert isinstance(answer["message"], str)
                assert answer["message"]
        if closed_with is None:
            await socket.disconnect()

    print(f"{FRAMES} fuzzed frames; error codes answered: {dict(sorted(seen_codes.items()))}")
    assert set(seen_codes) <= documented, set(seen_codes) - documented
    assert {"invalid", "unknown_type", "too_large"} <= set(seen_codes)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    # The history is whole: the public frames' seqs are 1..n, no gap, no repeat.
    seqs = await sync_to_async(
        lambda: sorted(
            [*Message.objects.filter(conversation=conversation, internal=False).values_list("seq", flat=True)]
            + [*conversation.events.values_list("seq", flat=True)]
        )
    )()
    assert seqs == list(range(1, len(seqs) + 1))
    notes = await sync_to_async(lambda: [*Message.objects.filter(conversation=conversation, internal=True)])()
    assert all(1 <= note.seq <= len(seqs) for note in notes)  # a note carries the seq it follows
    assert await sync_to_async(WorkItem.objects.filter(reference=conversation_id).count)() == 1
