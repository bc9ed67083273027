"""Queue alarms (X1, routing/alarms.py): raised once when a queue crosses a threshold, the peak
followed while open, cleared when the queue is back under; supervisors are told live."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from chat import services as chat
from contactcenter import realtime
from routing import alarms
from routing.models import QueueAlarm, WorkItem


def seconds(n: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


def start(widget):
    conversation, _ = chat.conversation_start(widget=widget, prechat={})
    return conversation


def alarm_events(captured) -> list[dict]:
    return [event for group, event in captured if event["type"] == "alarm" and group == "supervisors"]


def check(django_capture_on_commit_callbacks, now=None) -> tuple[dict, list[dict]]:
    with realtime.capture() as captured, django_capture_on_commit_callbacks(execute=True):
        result = alarms.queue_alarms_check(now=now)
    return result, alarm_events(captured)


@pytest.fixture
def watched_queue(queue):
    queue.alarm_waiting, queue.alarm_oldest_wait_seconds = 2, 60
    queue.save()
    return queue


@pytest.mark.django_db
def test_an_alarm_is_raised_once_follows_its_peak_and_clears(widget, watched_queue, django_capture_on_commit_callbacks):
    first = start(widget)
    assert check(django_capture_on_commit_callbacks) == ({"raised": 0, "cleared": 0}, [])

    second = start(widget)
    result, [raised] = check(django_capture_on_commit_callbacks)
    assert result == {"raised": 1, "cleared": 0}
    alarm = QueueAlarm.objects.get()
    assert raised == {
        "type": "alarm",
        "state": "raised",
        "queue_id": watched_queue.pk,
        "queue": "Housing advice",
        "kind": "waiting",
        "value": 2,
        "threshold": 2,
        "peak": 2,
        "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": None,
    }

    # While open: no new alarm, no new frame, the peak follows the highest value.
    third = start(widget)
    assert check(django_capture_on_commit_callbacks) == ({"raised": 0, "cleared": 0}, [])
    alarm.refresh_from_db()
    assert (alarm.value, alarm.peak, alarm.cleared_at) == (2, 3, None)

    # The oldest has waited past its threshold: a second alarm, of the other kind.
    later = WorkItem.objects.get(reference=str(first.pk)).enqueued_at + seconds(61)
    result, [waited] = check(django_capture_on_commit_callbacks, now=later)
    assert result == {"raised": 1, "cleared": 0}
    assert (waited["kind"], waited["threshold"], waited["state"]) == ("oldest_wait", 60, "raised")
    assert waited["value"] == 61

    # Back under: the customers gave up.
    for conversation in (second, third):
        chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    result, [cleared] = check(django_capture_on_commit_callbacks, now=later)
    assert result == {"raised": 0, "cleared": 1}
    alarm.refresh_from_db()
    assert alarm.cleared_at == later
    assert (cleared["state"], cleared["kind"], cleared["value"], cleared["peak"]) == ("cleared", "waiting", 1, 3)
    assert cleared["cleared_at"] == later.isoformat()

    chat.conversation_end(conversation_id=first.pk, ended_by="customer")
    result, [cleared] = check(django_capture_on_commit_callbacks, now=later)
    assert (result, cleared["kind"], cleared["value"]) == ({"raised": 0, "cleared": 1}, "oldest_wait", 0)
    assert not QueueAlarm.objects.filter(cleared_at__isnull=True).exists()

    # A new crossing is a new alarm.
    start(widget)
    start(widget)
    assert check(django_capture_on_commit_callbacks)[0] == {"raised": 1, "cleared": 0}
    assert QueueAlarm.objects.filter(kind="waiting").count() == 2


@pytest.mark.django_db
def test_offered_work_counts_as_waiting(widget, watched_queue, ready_agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start(widget)
        start(widget)
    assert WorkItem.objects.filter(state="offered").count() == 2
    assert alarms.queue_figures(queue_id=watched_queue.pk, now=timezone.now())["waiting"] == 2
    assert check(django_capture_on_commit_callbacks)[0] == {"raised": 1, "cleared": 0}


@pytest.mark.django_db
def test_removing_the_threshold_or_the_queue_clears_its_alarm(
    widget, watched_queue, django_capture_on_commit_callbacks
):
    start(widget)
    start(widget)
    assert check(django_capture_on_commit_callbacks)[0] == {"raised": 1, "cleared": 0}
    watched_queue.alarm_waiting = None
    watched_queue.save()
    result, [cleared] = check(django_capture_on_commit_callbacks)
    assert (result, cleared["state"]) == ({"raised": 0, "cleared": 1}, "cleared")

    watched_queue.alarm_waiting = 2
    watched_queue.save()
    assert check(django_capture_on_commit_callbacks)[0] == {"raised": 1, "cleared": 0}
    watched_queue.is_active = False
    watched_queue.save()
    assert check(django_capture_on_commit_callbacks)[0] == {"raised": 0, "cleared": 1}


@pytest.mark.django_db
def test_queues_without_thresholds_raise_nothing(widget, django_capture_on_commit_callbacks):
    for _ in range(5):
        start(widget)
    assert check(django_capture_on_commit_callbacks, now=timezone.now() + seconds(3600)) == (
        {"raised": 0, "cleared": 0},
        [],
    )
    assert not QueueAlarm.objects.exists()


@pytest.mark.django_db
def test_open_alarms_for_a_supervisor_who_connects_later(widget, watched_queue, django_capture_on_commit_callbacks):
    start(widget)
    start(widget)
    alarms.queue_alarms_check()
    start(widget)
    [event] = alarms.open_alarm_events()
    assert (event["state"], event["kind"], event["value"], event["peak"]) == ("raised", "waiting", 3, 2)


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_raise_one_alarm(widget, watched_queue):
    for _ in range(3):
        start(widget)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(alarms.queue_alarms_check())
        finally:
            connection.close()

    with realtime.capture() as captured:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(result["raised"] for result in results) == 1
    assert QueueAlarm.objects.filter(queue=watched_queue).count() == 1
    assert [event["state"] for event in alarm_events(captured)] == ["raised"]


@pytest.mark.django_db
def test_the_console_sets_thresholds_and_lists_alarms_and_disposition_codes(admin_client, widget, watched_queue):
    from django.urls import reverse

    from routing.models import DispositionCode

    page = admin_client.get(reverse("admin:routing_queue_change", args=[watched_queue.pk])).content.decode()
    for field in ("alarm_waiting", "alarm_oldest_wait_seconds", "auto_reply_text", "inactivity_close_seconds"):
        assert f'name="{field}"' in page
    start(widget)
    start(widget)
    alarms.queue_alarms_check()
    url = reverse("admin:routing_queuealarm_changelist")
    listing = admin_client.get(url, {"cleared_at__isempty": "1", "kind": "waiting"})
    assert listing.status_code == 200
    assert "Housing advice" in listing.content.decode()
    assert admin_client.get(reverse("admin:routing_queuealarm_add")).status_code == 403
    DispositionCode.objects.create(name="Advice given", queue=watched_queue, order=2)
    codes = admin_client.get(reverse("admin:routing_dispositioncode_changelist")).content.decode()
    assert "Advice given" in codes
    assert 'name="form-0-order"' in codes
