#!/usr/bin/env python
"""The relay writer's cost per message: CPU and wall time of storing chat messages in
batches (`chat.relay.write_batch`, the database-thread path, and the event loop's path),
without sockets or Redis in the way. Prints µs per message for customers' and agents'
messages, in batches of 1, 2, 5 and 20 messages to as many chats (what a relay gathers as its
load grows): the writer's CPU and wall time, and PostgreSQL's CPU (its processes on this
machine, so run it on a quiet one).

Uses the same services `make run` uses (DATABASE_URL / REDIS_URL, or the embedded ones), on
a queue and a conversation of its own, which it removes afterwards.

    .venv/bin/python bench/relay_writer.py --batches 300
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from django_services import SERVICES  # first: Django set up on the services make run uses

# isort: split
from chat_load import MachineProbe

# isort: split
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from chat import relay
from chat.models import Conversation, Participant, Widget
from routing.models import Contact, Queue
from webhooks import services as webhooks

PREFIX = "relay-writer-bench"
SIZES = (1, 2, 5, 20)


def setup() -> tuple[list[Conversation], int]:
    teardown()
    queue = Queue.objects.create(name=PREFIX)
    widget = Widget.objects.create(key=PREFIX, name=PREFIX, queue=queue)
    agent = get_user_model().objects.create(username=PREFIX, first_name="Aino")
    conversations = []
    for _ in range(max(SIZES)):
        conversation = Conversation.objects.create(
            widget=widget,
            queue=queue,
            contact=Contact.objects.create(name=PREFIX),
            state="active",
            assigned_at=timezone.now(),
        )
        Participant.objects.create(conversation=conversation, agent=agent, role="agent", shown_name="Aino")
        conversations.append(conversation)
    return conversations, agent.pk


def teardown() -> None:
    queue = Queue.objects.filter(name=PREFIX).first()
    if queue is not None:
        Conversation.objects.filter(queue=queue).delete()
        Widget.objects.filter(queue=queue).delete()
        queue.delete()
    get_user_model().objects.filter(username=PREFIX).delete()
    Contact.objects.filter(name=PREFIX).delete()


def posts(conversations: list[Conversation], agent_id: int, role: str, size: int) -> list[relay.Post]:
    return [
        relay.Post(
            conversation_id=conversation.pk,
            role=role,
            text="Hello, how can I help you today?",
            client_id=uuid.uuid4(),
            user_id=agent_id if role == "agent" else None,
        )
        for conversation in conversations[:size]
    ]


def measure(label: str, batches: int, size: int, store) -> None:
    """`store(batches, size)` stores the batches one after another and returns their outcomes."""
    cpu, wall, machine = time.process_time(), time.perf_counter(), MachineProbe.sample()
    for outcomes in store(batches, size):
        assert all(outcome == relay.CREATED for outcome, _frame in outcomes), outcomes
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    postgresql = MachineProbe.between(machine, MachineProbe.sample())["postgresql"]
    count = batches * size
    print(f"{label:<44} {1e6 * cpu / count:7.0f} µs CPU {1e6 * wall / count:7.0f} µs wall per message, "
          f"PostgreSQL {1e6 * postgresql / count:5.0f} µs", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=300, help="batches per measurement")
    args = parser.parse_args()
    call_command("migrate", "--noinput", "-v", "0")
    conversations, agent_id = setup()
    webhooks.forget_endpoints()
    webhooks.subscribed("message.created")  # endpoints looked at: the event loop's path may run
    loop = asyncio.new_event_loop()
    writer = relay._Writer(loop)
    for task in writer.tasks:
        task.cancel()
    try:
        for role in ("customer", "agent"):
            for size in SIZES:

                def on_thread(batches, n, role=role):
                    return [relay.write_batch(posts(conversations, agent_id, role, n)) for _ in range(batches)]

                def in_loop(batches, n, role=role):
                    async def store_all():  # in one running loop, as in the server
                        return [
                            await writer._store_in_loop(posts(conversations, agent_id, role, n)) for _ in range(batches)
                        ]

                    return loop.run_until_complete(store_all())

                measure(f"{role}, {size} per batch, database thread", args.batches, size, on_thread)
                measure(f"{role}, {size} per batch, event loop", args.batches, size, in_loop)
    finally:
        loop.run_until_complete(writer._close())
        loop.close()
        teardown()
        SERVICES.stop()


if __name__ == "__main__":
    main()
