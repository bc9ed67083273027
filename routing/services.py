"""The verbs of routing: enqueue, route, offer, accept, decline, pick, finish, presence.

Each public function is one transaction. Channels learn what happened through their
registered handler (`handlers.py`), called inside the same transaction.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.realtime import publish_many_on_commit, publish_on_commit
from contactcenter.redis_client import get_redis
from contactcenter.redis_client import key as redis_key

from . import locks, rules
from .handlers import handler_for
from .models import (
    AgentProfile,
    PresenceChange,
    Queue,
    QueueMembership,
    QueueSkill,
    WorkItem,
    WorkItemEvent,
)
from .selectors import candidate

logger = logging.getLogger(__name__)

ROUTE_BATCH = 50


class RoutingError(Exception):
    """A routing verb cannot be done; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# --- work items -------------------------------------------------------------------------


MAX_OVERFLOW_HOPS = 5


def queue_with_room(*, queue: Queue, channel: str) -> Queue:
    """The queue new work joins: this one, or its overflow queue (and so on) when it holds
    `max_waiting` already; overflow queues that do not serve the channel are passed over.
    Raises RoutingError("queue_full") when none has room.
    Must run inside a transaction: a full queue's row is locked so starts do not overrun it."""
    seen: set[int] = set()
    current: Queue | None = queue
    while current is not None and current.pk not in seen and len(seen) < MAX_OVERFLOW_HOPS:
        seen.add(current.pk)
        if not current.serves(channel):
            current = current.overflow_queue
            continue
        if current.max_waiting is None:
            return current
        Queue.objects.select_for_update(no_key=True).filter(pk=current.pk).first()
        waiting = WorkItem.objects.filter(queue=current, state__in=(WorkItem.State.WAITING, WorkItem.State.OFFERED))
        if current.is_active and waiting.count() < current.max_waiting:
            return current
        current = current.overflow_queue
    raise RoutingError("queue_full", _("All our queues are full right now. Please try again later."))


@transaction.atomic
def work_item_enqueue(*, channel: str, reference: str, queue: Queue, priority: int = 0) -> WorkItem:
    if not queue.serves(channel):
        raise RoutingError("channel_not_served", _("This queue does not serve this channel."))
    item = WorkItem.objects.create(
        channel=channel, reference=reference, queue=queue, priority=priority, enqueued_at=timezone.now()
    )
    WorkItemEvent.objects.create(work_item=item, kind="enqueued")
    _work_changed(item)
    _after_commit_route(queue.pk)
    _waiting_changed(channel, queue.pk)
    return item


@transaction.atomic
def work_item_finish(*, channel: str, reference: str) -> WorkItem | None:
    """The channel is done with its work: done when an agent had taken it (the agent is freed),
    abandoned when it ended still waiting or offered (the customer left or gave up)."""
    item = (
        WorkItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(channel=channel, reference=reference, state__in=WorkItem.ACTIVE_STATES)
        .first()
    )
    if item is None:
        return None
    was_waiting = item.state in (WorkItem.State.WAITING, WorkItem.State.OFFERED)
    if item.state == WorkItem.State.OFFERED and item.agent is not None:
        handler_for(channel).offer_withdrawn(item=item, agent=item.agent, reason="cancelled")
    item.state = WorkItem.State.ABANDONED if was_waiting else WorkItem.State.DONE
    item.finished_at = timezone.now()
    item.offer_expires_at = None
    item.save(update_fields=["state", "finished_at", "offer_expires_at"])
    WorkItemEvent.objects.create(work_item=item, kind=item.state, agent=item.agent)
    _work_changed(item)
    if item.state == WorkItem.State.DONE and item.agent is not None:
        _start_wrap_up(agent_id=item.agent_id, queue_seconds=item.queue.wrap_up_seconds)
    # A freed slot may serve any of the agent's queues; the most urgent work there goes first.
    _after_commit_route(item.queue_id, *(_agent_queue_ids(item.agent_id) if item.agent_id else []))
    if was_waiting:
        _waiting_changed(channel, item.queue_id)
    return item


@transaction.atomic
def work_item_requeue(*, channel: str, reference: str, queue: Queue) -> WorkItem:
    """Move active work to (another) queue to wait again, keeping its original waiting time."""
    item = (
        WorkItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(channel=channel, reference=reference, state__in=WorkItem.ACTIVE_STATES)
        .get()
    )
    old_queue_id = item.queue_id
    item.queue = queue
    item.state = WorkItem.State.WAITING
    item.agent = None
    item.offer_expires_at = None
    item.save(update_fields=["queue", "state", "agent", "offer_expires_at"])
    WorkItemEvent.objects.create(work_item=item, kind="requeued")
    _work_changed(item)
    _after_commit_route(old_queue_id, queue.pk)
    for queue_id in {old_queue_id, queue.pk}:
        _waiting_changed(channel, queue_id)
    return item


@transaction.atomic
def work_item_transfer(*, channel: str, reference: str, to_agent: AgentProfile) -> WorkItem:
    """Hand assigned work to another agent directly (a transfer the colleague accepted),
    if they have room for it on its channel. The waiting time stays the original."""
    item = (
        WorkItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(channel=channel, reference=reference, state=WorkItem.State.ASSIGNED)
        .first()
    )
    if item is None:
        raise RoutingError("not_assigned", _("Only a chat an agent holds can be handed over."))
    if item.agent_id == to_agent.pk:
        return item
    previous_agent_id = item.agent_id
    agent = locks.agent(agent_id=to_agent.pk)
    if agent.presence == AgentProfile.Presence.OFFLINE:
        raise RoutingError("offline", _("Your colleague is offline."))
    if _capacity_left(agent, channel=channel, excluding=item.pk) <= 0:
        raise RoutingError("at_capacity", _("Your colleague has no room for another chat right now."))
    item.agent = agent
    item.save(update_fields=["agent"])
    WorkItemEvent.objects.create(work_item=item, kind="transferred", agent=agent)
    _work_changed(item)
    # The sender's slot is free now.
    _after_commit_route(*_agent_queue_ids(previous_agent_id))
    return item


# --- routing ----------------------------------------------------------------------------


def route(*, queue_ids: Iterable[int]) -> int:
    """Offer (or assign) waiting work of these queues to ready agents, by the rules of
    `rules.py` (docs/routing.md). Returns how many items found an agent.

    Safe in any number of processes at once: waiting items and agents are claimed with
    SELECT … FOR UPDATE SKIP LOCKED, so two routers never hand out the same item or the same
    free slot; what one router skips, the next run (or the beat sweep) takes.
    """
    queue_ids = sorted(set(queue_ids))
    with transaction.atomic():
        # Items are locked before agents: the lock order of locks.py.
        items = locks.waiting_items(queue_ids=queue_ids, limit=ROUTE_BATCH)
        if not items:
            return 0
        required = _required_skills(queue_ids=queue_ids)
        refused = _refused_agents(item_ids=[item.pk for item in items])
        agents = _free_agents(items=items, required=required, refusals=sum(map(len, refused.values())))
        if not agents:
            return 0
        pool = _candidates(agents=agents, queue_ids=queue_ids, refused=refused)
        now = timezone.now()
        works = {item.pk: work_of(item) for item in items}
        placed, chosen_agents, offers = 0, {}, []
        for item in sorted(items, key=lambda item: rules.work_order_key(works[item.pk], now)):
            work = works[item.pk]
            chosen = rules.best_agent(list(pool.values()), work, required.get(item.queue_id, {}))
            if chosen is None:
                continue
            chosen.take(work.group)
            chosen.last_assigned_at = now
            agent = chosen_agents.get(chosen.id) or agents[chosen.id].profile()
            agent.last_assigned_at = now
            chosen_agents[agent.pk] = agent
            if item.queue.assignment_mode == Queue.AssignmentMode.DIRECT:
                _assign(item=item, agent=agent, kind="assigned")
            else:
                offers.append((item, agent))
            placed += 1
        _offer(offers, now=now)
        AgentProfile.objects.bulk_update(list(chosen_agents.values()), ["last_assigned_at"])
        return placed


def work_of(item: WorkItem) -> rules.Work:
    """What the rules need of a waiting item (its queue fetched with it)."""
    return rules.Work(
        id=item.pk,
        queue_id=item.queue_id,
        queue_priority=item.queue.priority,
        priority=item.priority,
        enqueued_at=item.enqueued_at,
        target_seconds=item.queue.service_level_target_seconds,
        channel=item.channel,
    )


def route_all() -> int:
    """Safety net run by beat: route every queue that has waiting work."""
    queue_ids = WorkItem.objects.filter(state=WorkItem.State.WAITING).values_list("queue_id", flat=True).distinct()
    return route(queue_ids=list(queue_ids)) if queue_ids else 0


def _free_agents(
    *, items: list[WorkItem], required: dict[int, dict[int, int]], refusals: int
) -> dict[int, locks.ReadyAgent]:
    """Enough of the best free agents, locked, for each queue and capacity group among the
    items: as many as there are items, plus every refusal of them (locks.free_agents)."""
    # Each pick may worsen one agent of any queue, so every queue gets the whole batch's count.
    agents: dict[int, locks.ReadyAgent] = {}
    for queue_id, group in sorted({(item.queue_id, rules.capacity_group(item.channel)) for item in items}):
        for agent in locks.free_agents(
            queue_id=queue_id, group=group, required=required.get(queue_id, {}), limit=len(items) + refusals
        ):
            agents[agent.pk] = agent
    # In id order, as rules.best_agent breaks a tie in favour of the first.
    return dict(sorted(agents.items()))


def _candidates(
    *, agents: dict[int, locks.ReadyAgent], queue_ids: list[int], refused: dict
) -> dict[int, rules.Candidate]:
    pool = {agent.pk: candidate(agent) for agent in agents.values()}
    agent_ids = list(agents)
    with connection.cursor() as cursor:
        # Array parameters, not IN lists: these run on every route.
        cursor.execute(
            "SELECT agent_id, queue_id, chat_priority, call_priority FROM routing_queuemembership "
            "WHERE agent_id = ANY(%s) AND queue_id = ANY(%s) AND logged_on",
            [agent_ids, queue_ids],
        )
        for agent_id, queue_id, chat_priority, call_priority in cursor.fetchall():
            pool[agent_id].memberships[queue_id] = {rules.CHATS: chat_priority, rules.CALLS: call_priority}
        cursor.execute("SELECT agent_id, skill_id, level FROM routing_agentskill WHERE agent_id = ANY(%s)", [agent_ids])
        for agent_id, skill_id, level in cursor.fetchall():
            pool[agent_id].skills[skill_id] = level
    for item_id, refused_by in refused.items():
        for agent_id in refused_by:
            if agent_id in pool:
                pool[agent_id].refused.add(item_id)
    return pool


def _required_skills(*, queue_ids: list[int]) -> dict[int, dict[int, int]]:
    required: dict[int, dict[int, int]] = {}
    for queue_id, skill_id, level in QueueSkill.objects.filter(queue_id__in=queue_ids).values_list(
        "queue_id", "skill_id", "min_level"
    ):
        required.setdefault(queue_id, {})[skill_id] = level
    return required


def _refused_agents(*, item_ids: list) -> dict:
    refused: dict = {}
    for item_id, agent_id in WorkItemEvent.objects.filter(
        work_item_id__in=item_ids, kind__in=["declined", "expired"]
    ).values_list("work_item_id", "agent_id"):
        refused.setdefault(item_id, set()).add(agent_id)
    return refused


def _offer(offers: list[tuple[WorkItem, AgentProfile]], *, now: datetime.datetime) -> None:
    """One route's offers in a few statements, however many there are: with 1,000 agents
    the per-offer queries were most of a route's time (docs/performance.md)."""
    if not offers:
        return
    for item, agent in offers:
        item.state = WorkItem.State.OFFERED
        item.agent = agent
        item.offer_expires_at = now + datetime.timedelta(seconds=item.queue.offer_timeout_seconds)
    WorkItem.objects.bulk_update([item for item, _ in offers], ["state", "agent", "offer_expires_at"])
    WorkItemEvent.objects.bulk_create(
        [WorkItemEvent(work_item=item, kind="offered", agent=agent) for item, agent in offers]
    )
    publish_many_on_commit([(WORK_GROUP, _work_event(item)) for item, _ in offers])
    by_channel: dict[str, list[tuple[WorkItem, AgentProfile]]] = {}
    for item, agent in offers:
        by_channel.setdefault(item.channel, []).append((item, agent))
    for channel, channel_offers in by_channel.items():
        handler_for(channel).offered(offers=channel_offers)


def _assign(*, item: WorkItem, agent: AgentProfile, kind: str) -> None:
    if agent.missed_offers:
        AgentProfile.objects.filter(pk=agent.pk).update(missed_offers=0)
        agent.missed_offers = 0
    item.state = WorkItem.State.ASSIGNED
    item.agent = agent
    item.offer_expires_at = None
    item.assigned_at = timezone.now()
    item.save(update_fields=["state", "agent", "offer_expires_at", "assigned_at"])
    WorkItemEvent.objects.create(work_item=item, kind=kind, agent=agent)
    _work_changed(item)
    handler_for(item.channel).assigned(item=item, agent=agent)
    _waiting_changed(item.channel, item.queue_id)


def _capacity_left(agent: AgentProfile, *, channel: str, excluding=None) -> int:
    """Free slots for the channel's work, with the agent's row locked by the caller."""
    holding = WorkItem.objects.filter(agent=agent, state__in=WorkItem.HOLDING_STATES)
    if excluding is not None:
        holding = holding.exclude(pk=excluding)
    held: dict[str, int] = {}
    for held_channel in holding.values_list("channel", flat=True):
        group = rules.capacity_group(held_channel)
        held[group] = held.get(group, 0) + 1
    return candidate(agent, held=held).free(rules.capacity_group(channel))


# --- the agent's answers ----------------------------------------------------------------


@transaction.atomic
def offer_accept(*, agent: AgentProfile, item_id) -> WorkItem:
    item = locks.work_item(item_id=item_id)
    if item.state != WorkItem.State.OFFERED or item.agent_id != agent.pk:
        raise RoutingError("offer_gone", _("This offer is no longer yours: it expired or was withdrawn."))
    if item.offer_expires_at is not None and item.offer_expires_at < timezone.now():
        raise RoutingError("offer_gone", _("This offer expired."))
    _assign(item=item, agent=agent, kind="accepted")
    return item


@transaction.atomic
def offer_decline(*, agent: AgentProfile, item_id) -> WorkItem:
    item = locks.work_item(item_id=item_id)
    if item.state != WorkItem.State.OFFERED or item.agent_id != agent.pk:
        raise RoutingError("offer_gone", _("This offer is no longer yours."))
    _withdraw(item=item, kind="declined")
    return item


def offers_expire(*, now: datetime.datetime | None = None) -> int:
    """Return offers nobody answered in time to the queue; a silent agent is set not ready."""
    now = now or timezone.now()
    expired = 0
    with transaction.atomic():
        # In agent order: each withdrawal's trigger updates its agent's row, and two time-outs
        # running at once (two beats, a redelivered task) must take agent rows in one order,
        # or they deadlock.
        items = list(
            WorkItem.objects.filter(state=WorkItem.State.OFFERED, offer_expires_at__lt=now)
            .select_for_update(skip_locked=True, of=("self",), no_key=True)
            .select_related("agent")
            .order_by("agent_id", "pk")[:200]
        )
        silent_agents: dict[int, int] = {}
        for item in items:
            silent_agents[item.agent_id] = silent_agents.get(item.agent_id, 0) + 1
            _withdraw(item=item, kind="expired")
            expired += 1
        for agent_id, missed in silent_agents.items():
            agent = locks.agent(agent_id=agent_id)
            agent.missed_offers += missed
            agent.save(update_fields=["missed_offers"])
            if agent.missed_offers >= settings.CC_MISSED_OFFERS_BEFORE_NOT_READY:
                _presence_change(agent=agent, presence=AgentProfile.Presence.NOT_READY, reason="missed offers")
    return expired


def _withdraw(*, item: WorkItem, kind: str) -> None:
    agent = item.agent
    item.state = WorkItem.State.WAITING
    item.agent = None
    item.offer_expires_at = None
    item.save(update_fields=["state", "agent", "offer_expires_at"])
    WorkItemEvent.objects.create(work_item=item, kind=kind, agent=agent)
    _work_changed(item)
    handler_for(item.channel).offer_withdrawn(item=item, agent=agent, reason=kind)
    _after_commit_route(item.queue_id)
    _waiting_changed(item.channel, item.queue_id)


@transaction.atomic
def work_item_pick(*, agent: AgentProfile, item_id, allowed_queue_ids: Iterable[int] | None = None) -> WorkItem:
    """An agent takes waiting work by hand (A2). Only from queues the caller may see."""
    agent = locks.agent(agent_id=agent.pk)
    item = locks.work_item(item_id=item_id)
    if allowed_queue_ids is not None and item.queue_id not in set(allowed_queue_ids):
        raise RoutingError("not_found", _("No such waiting work in your queues."))
    if item.state not in (WorkItem.State.WAITING, WorkItem.State.OFFERED):
        raise RoutingError("taken", _("Someone else already took this."))
    if item.state == WorkItem.State.OFFERED and item.agent_id != agent.pk:
        handler_for(item.channel).offer_withdrawn(item=item, agent=item.agent, reason="picked")
    if _capacity_left(agent, channel=item.channel, excluding=item.pk) <= 0:
        if item.channel == WorkItem.Channel.CHAT:
            raise RoutingError("at_capacity", _("You are at your chat capacity, or on a call; end one first."))
        raise RoutingError("at_capacity", _("You are on a call already, or take no calls."))
    _assign(item=item, agent=agent, kind="picked")
    return item


# --- wrap-up ----------------------------------------------------------------------------


def _start_wrap_up(*, agent_id: int, queue_seconds: int = 0) -> None:
    """After finished work a ready agent gets no new work for the wrap-up time: the queue's
    or the agent's own, whichever is longer."""
    agent = locks.agent(agent_id=agent_id)
    seconds = max(agent.wrap_up_seconds, queue_seconds)
    if seconds <= 0 or agent.presence not in (AgentProfile.Presence.READY, AgentProfile.Presence.WRAP_UP):
        return
    agent.wrap_up_until = timezone.now() + datetime.timedelta(seconds=seconds)
    agent.save(update_fields=["wrap_up_until"])
    _presence_change(agent=agent, presence=AgentProfile.Presence.WRAP_UP, reason="")


def wrap_ups_end(*, now: datetime.datetime | None = None) -> int:
    """Agents whose wrap-up time is over are ready again (run by beat every few seconds)."""
    now = now or timezone.now()
    ended = 0
    due = AgentProfile.objects.filter(presence=AgentProfile.Presence.WRAP_UP, wrap_up_until__lte=now)
    for agent_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            agent = locks.agent(agent_id=agent_id)
            if (
                agent.presence != AgentProfile.Presence.WRAP_UP
                or agent.wrap_up_until is None
                or agent.wrap_up_until > now
            ):
                continue
            agent.wrap_up_until = None
            agent.save(update_fields=["wrap_up_until"])
            _presence_change(agent=agent, presence=AgentProfile.Presence.READY, reason="")
            _after_commit_route(*_agent_queue_ids(agent.pk))
            ended += 1
    return ended


# --- presence and queues ----------------------------------------------------------------


@transaction.atomic
def presence_set(*, agent: AgentProfile, presence: str, reason: str = "") -> AgentProfile:
    if presence not in AgentProfile.Presence.values:
        raise RoutingError("invalid", _("Unknown presence %(state)s.") % {"state": presence})
    agent = locks.agent(agent_id=agent.pk)
    _presence_change(agent=agent, presence=presence, reason=reason[:120])
    if presence == AgentProfile.Presence.READY:
        _after_commit_route(*_agent_queue_ids(agent.pk))
    return agent


def _presence_change(*, agent: AgentProfile, presence: str, reason: str) -> None:
    if agent.presence == presence and agent.presence_reason == reason:
        return
    agent.presence, agent.presence_reason, agent.presence_since = presence, reason, timezone.now()
    agent.save(update_fields=["presence", "presence_reason", "presence_since"])
    PresenceChange.objects.create(agent=agent, presence=presence, reason=reason)
    event = {
        "type": "presence",
        "agent_id": agent.pk,
        "state": presence,
        "reason": reason,
        "since": agent.presence_since.isoformat(),
    }
    publish_on_commit(groups=[f"agent.{agent.user_id}", "supervisors"], event=event)


@transaction.atomic
def queue_log_on(*, agent: AgentProfile, queue_ids: Iterable[int] | None = None, logged_on: bool) -> int:
    """Log an agent on or off some queues (or all, with queue_ids None). Returns rows changed."""
    memberships = QueueMembership.objects.filter(agent=agent)
    if queue_ids is not None:
        memberships = memberships.filter(queue_id__in=list(queue_ids))
    changed = list(memberships.filter(~Q(logged_on=logged_on)).values_list("queue_id", flat=True))
    memberships.filter(queue_id__in=changed).update(logged_on=logged_on)
    if logged_on and changed:
        _after_commit_route(*changed)
    publish_on_commit(
        groups=[f"agent.{agent.user_id}", "supervisors"],
        event={"type": "membership", "agent_id": agent.pk, "queue_ids": changed, "logged_on": logged_on},
    )
    return len(changed)


# --- after commit -----------------------------------------------------------------------


def _after_commit_route(*queue_ids: int) -> None:
    def run() -> None:
        try:
            route(queue_ids=queue_ids)
        except Exception:
            # The beat safety net routes again within seconds; never fail the caller's action.
            logger.exception("routing queues %s failed", queue_ids)

    transaction.on_commit(run)


def _agent_queue_ids(agent_id: int) -> list[int]:
    return list(QueueMembership.objects.filter(agent_id=agent_id, logged_on=True).values_list("queue_id", flat=True))


def _waiting_changed(channel: str, queue_id: int) -> None:
    handler_for(channel).waiting_changed(queue_id=queue_id)


# Supervisors' live views (supervision.consumers) recount their figures on these.
WORK_GROUP = "supervision.work"


def _work_changed(item: WorkItem) -> None:
    """Work joined a line, was offered, taken, handed on, given back or finished."""
    publish_on_commit(groups=[WORK_GROUP], event=_work_event(item))


def _work_event(item: WorkItem) -> dict:
    return {"type": "work", "queue_id": item.queue_id, "agent_id": item.agent_id, "state": item.state}


# --- the agent's connections ------------------------------------------------------------

SOCKET_STALE_SECONDS = 90
AGENT_RECONNECT_GRACE_SECONDS = 20


def _sockets_key(agent_id: int) -> str:
    return redis_key("agent", str(agent_id), "sockets")


def agent_socket_opened(*, agent: AgentProfile, socket_id: str) -> None:
    """Remember a live workspace connection; refreshed by the socket while it stays open."""
    get_redis().zadd(_sockets_key(agent.pk), {socket_id: time.time()})


def agent_socket_closed(*, agent: AgentProfile, socket_id: str) -> None:
    """An agent's connection closed. If none is left after a grace time (a reload, a network
    blip), the agent goes offline, so no chat waits on a closed browser."""
    from .tasks import offline_if_no_socket

    get_redis().zrem(_sockets_key(agent.pk), socket_id)
    offline_if_no_socket.apply_async((agent.pk,), countdown=AGENT_RECONNECT_GRACE_SECONDS)


def agent_offline_if_no_socket(*, agent_id: int) -> bool:
    key = _sockets_key(agent_id)
    client = get_redis()
    client.zremrangebyscore(key, 0, time.time() - SOCKET_STALE_SECONDS)
    if client.zcard(key):
        return False
    agent = AgentProfile.objects.filter(pk=agent_id).exclude(presence=AgentProfile.Presence.OFFLINE).first()
    if agent is None:
        return False
    with transaction.atomic():
        presence_set(agent=agent, presence=AgentProfile.Presence.OFFLINE, reason="disconnected")
        # Offers to a closed browser go back to the queue now, not at their time-out.
        for item in WorkItem.objects.filter(agent=agent, state=WorkItem.State.OFFERED).select_for_update(
            skip_locked=True, of=("self",), no_key=True
        ):
            _withdraw(item=item, kind="expired")
    return True


def agents_without_sockets_offline() -> int:
    """Safety net for connections lost with their process: agents present but unseen go offline."""
    present = AgentProfile.objects.exclude(presence=AgentProfile.Presence.OFFLINE).values_list("pk", flat=True)
    return sum(agent_offline_if_no_socket(agent_id=agent_id) for agent_id in list(present))
