"""Queue alarms (X1): a queue at or over its threshold of waiting work, or of the time its
oldest work has waited, raises an alarm for supervisors; it clears when the queue is back
under. Beat checks every few seconds (docs/routing.md, "Alarms").

Each queue is checked in its own transaction holding the queue's row lock, so two checks at
once take turns and the second sees the first's alarm; the unique open alarm per queue and
kind (`queue_alarm_one_open`) backs that up.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from contactcenter.realtime import publish_on_commit

from .models import Queue, QueueAlarm, WorkItem

SUPERVISORS = "supervisors"
WAITING_STATES = (WorkItem.State.WAITING, WorkItem.State.OFFERED)


def queue_alarms_check(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Raise, follow and clear the alarms of every queue with a threshold (or an open alarm).
    Returns how many alarms were raised and cleared."""
    now = now or timezone.now()
    with_thresholds = Queue.objects.filter(is_active=True).filter(
        Q(alarm_waiting__isnull=False) | Q(alarm_oldest_wait_seconds__isnull=False)
    )
    queue_ids = set(with_thresholds.values_list("pk", flat=True))
    # A queue whose threshold was removed, or that was switched off, clears its open alarms.
    queue_ids |= set(QueueAlarm.objects.filter(cleared_at__isnull=True).values_list("queue_id", flat=True))
    done = {"raised": 0, "cleared": 0}
    for queue_id in sorted(queue_ids):
        for change in queue_alarm_check(queue_id=queue_id, now=now):
            done[change] += 1
    return done


def queue_figures(*, queue_id: int, now: datetime.datetime) -> dict[str, int]:
    """What the alarms watch: work waiting (offered counts until accepted) and how long, in
    whole seconds, the oldest of it has waited (0 when none waits)."""
    figures = WorkItem.objects.filter(queue_id=queue_id, state__in=WAITING_STATES).aggregate(
        waiting=Count("pk"), oldest=Min("enqueued_at")
    )
    oldest = figures["oldest"]
    return {
        QueueAlarm.Kind.WAITING: figures["waiting"],
        QueueAlarm.Kind.OLDEST_WAIT: max(0, int((now - oldest).total_seconds())) if oldest else 0,
    }


def _thresholds(queue: Queue) -> dict[str, int | None]:
    if not queue.is_active:
        return {QueueAlarm.Kind.WAITING: None, QueueAlarm.Kind.OLDEST_WAIT: None}
    return {QueueAlarm.Kind.WAITING: queue.alarm_waiting, QueueAlarm.Kind.OLDEST_WAIT: queue.alarm_oldest_wait_seconds}


@transaction.atomic
def queue_alarm_check(*, queue_id: int, now: datetime.datetime) -> list[str]:
    """Check one queue's alarms against its figures now; returns the changes ("raised",
    "cleared"). While an alarm is open its peak follows the highest value seen."""
    queue = Queue.objects.select_for_update(no_key=True).filter(pk=queue_id).first()
    if queue is None:
        return []
    figures = queue_figures(queue_id=queue.pk, now=now)
    open_alarms = {alarm.kind: alarm for alarm in QueueAlarm.objects.filter(queue=queue, cleared_at__isnull=True)}
    changes = []
    for kind, threshold in _thresholds(queue).items():
        value, alarm = figures[kind], open_alarms.get(kind)
        if threshold is not None and value >= threshold:
            if alarm is None:
                alarm = QueueAlarm.objects.create(queue=queue, kind=kind, threshold=threshold, value=value, peak=value)
                _publish(alarm, queue=queue, value=value)
                changes.append("raised")
            elif value > alarm.peak:
                alarm.peak = value
                alarm.save(update_fields=["peak"])
        elif alarm is not None:
            alarm.cleared_at = now
            alarm.save(update_fields=["cleared_at"])
            _publish(alarm, queue=queue, value=value)
            changes.append("cleared")
    return changes


def alarm_event(alarm: QueueAlarm, *, queue: Queue, value: int) -> dict:
    """The `alarm` frame supervisors get (docs/protocol.md); `value` is the figure now."""
    return {
        "type": "alarm",
        "state": "cleared" if alarm.cleared_at else "raised",
        "queue_id": queue.pk,
        "queue": queue.name,
        "kind": alarm.kind,
        "value": value,
        "threshold": alarm.threshold,
        "peak": alarm.peak,
        "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
    }


def open_alarm_events(*, now: datetime.datetime | None = None) -> list[dict]:
    """The alarms open now, as `raised` frames with today's figures: for a supervisor's view
    on connect, which live frames alone would leave without the alarms raised before."""
    now = now or timezone.now()
    alarms = QueueAlarm.objects.filter(cleared_at__isnull=True).select_related("queue").order_by("raised_at")
    return [
        alarm_event(alarm, queue=alarm.queue, value=queue_figures(queue_id=alarm.queue_id, now=now)[alarm.kind])
        for alarm in alarms
    ]


def _publish(alarm: QueueAlarm, *, queue: Queue, value: int) -> None:
    publish_on_commit(groups=[SUPERVISORS], event=alarm_event(alarm, queue=queue, value=value))
