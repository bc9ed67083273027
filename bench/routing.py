#!/usr/bin/env python
"""Routing benchmark: 1,000 logged-on agents, 5,000 waiting chats.

Phase 1 (drain): agents turn ready and P router processes offer the waiting work as fast as
they can; prints offers per second. Phase 2 (latency): with free capacity left, chats are
enqueued one at a time and the time from enqueue to offer is measured; prints p50/p99.
Uses the same services `make run` uses (DATABASE_URL / REDIS_URL, or the embedded ones),
on a queue and agents of its own, which it removes afterwards.

    .venv/bin/python bench/routing.py --agents 1000 --items 5000 --processes 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from django_services import SERVICES  # first: Django set up on the services make run uses

# isort: split
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from chat.models import Conversation, Widget
from routing import services as routing
from routing.models import MIDNIGHT, AgentProfile, Contact, Queue, QueueMembership, WeeklySlot, WorkItem

PREFIX = "routing-bench"


def setup(agents: int, items: int, capacity: int) -> Queue:
    teardown()
    queue = Queue.objects.create(name=PREFIX, assignment_mode="offer", offer_timeout_seconds=600)
    for weekday in range(7):
        WeeklySlot.objects.create(queue=queue, weekday=weekday, opens=MIDNIGHT, closes=MIDNIGHT)
    widget = Widget.objects.create(key=PREFIX, name=PREFIX, queue=queue)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"{PREFIX}-{n}", first_name=f"Agent {n}") for n in range(agents)]
    )
    profiles = AgentProfile.objects.bulk_create(
        [AgentProfile(user=user, chat_capacity=capacity, presence="offline") for user in users]
    )
    QueueMembership.objects.bulk_create(
        [QueueMembership(agent=profile, queue=queue, chat_priority=1 + n % 3) for n, profile in enumerate(profiles)]
    )
    contact = Contact.objects.create(name=PREFIX)
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        [Conversation(widget=widget, queue=queue, contact=contact) for _ in range(items)]
    )
    WorkItem.objects.bulk_create(
        [
            WorkItem(channel="chat", reference=str(c.pk), queue=queue, enqueued_at=now, priority=n % 3)
            for n, c in enumerate(conversations)
        ]
    )
    return queue


def teardown() -> None:
    queue = Queue.objects.filter(name=PREFIX).first()
    if queue is not None:
        WorkItem.objects.filter(queue=queue).delete()
        Conversation.objects.filter(queue=queue).delete()
        Widget.objects.filter(queue=queue).delete()
        queue.delete()
    get_user_model().objects.filter(username__startswith=f"{PREFIX}-").delete()
    Contact.objects.filter(name=PREFIX).delete()


def close_pools() -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper

    for pool in list(DatabaseWrapper._connection_pools.values()):
        pool.close()
    DatabaseWrapper._connection_pools.clear()


def drain_worker(queue_id: int, stop_at: float, results) -> None:
    connection.close()
    placed = 0
    while time.time() < stop_at:
        n = routing.route(queue_ids=[queue_id])
        placed += n
        if n == 0 and not WorkItem.objects.filter(queue_id=queue_id, state="waiting").exists():
            break
    results.put(placed)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--latency-samples", type=int, default=300)
    args = parser.parse_args()
    try:
        started = time.perf_counter()
        queue = setup(args.agents, args.items, args.capacity)
        elapsed = time.perf_counter() - started
        print(f"setup: {args.agents} agents (cap {args.capacity}), {args.items} waiting, {elapsed:.1f} s")
        AgentProfile.objects.filter(user__username__startswith=f"{PREFIX}-").update(presence="ready")

        connection.close()
        close_pools()  # a forked child must not share the parent's pooled connections
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        began = time.perf_counter()
        workers = [
            context.Process(target=drain_worker, args=(queue.pk, time.time() + 300, results))
            for _ in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - began
        placed = sum(results.get() for _ in workers)
        offered = WorkItem.objects.filter(queue=queue, state="offered").count()
        rate = placed / seconds
        print(f"drain: {placed} offers by {args.processes} router processes in {seconds:.1f} s = {rate:.0f} offers/s")
        print(f"       waiting left {WorkItem.objects.filter(queue=queue, state='waiting').count()}, offered {offered}")

        while WorkItem.objects.filter(queue=queue, state="waiting").exists():
            routing.route(queue_ids=[queue.pk])

        # Latency: one chat at a time, enqueue (commit) to offer, with free capacity.
        widget = Widget.objects.get(key=PREFIX)
        contact = Contact.objects.get(name=PREFIX)
        samples = []
        for _ in range(args.latency_samples):
            with transaction.atomic():
                conversation = Conversation.objects.create(widget=widget, queue=queue, contact=contact)
            t0 = time.perf_counter()
            item = routing.work_item_enqueue(channel="chat", reference=str(conversation.pk), queue=queue)
            samples.append((time.perf_counter() - t0) * 1000)
            assert WorkItem.objects.get(pk=item.pk).state == "offered", "not offered"
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[int(0.99 * len(samples)) - 1]
        print(f"enqueue-to-offer: p50 {p50:.1f} ms  p99 {p99:.1f} ms  ({len(samples)} chats, each offered on return)")
    finally:
        teardown()
        close_pools()
        SERVICES.stop()


if __name__ == "__main__":
    main()
