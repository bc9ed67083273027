"""Opening hours: weekly slots, dated exceptions and public holidays, in the queue's time zone."""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

import holidays

from .models import MIDNIGHT, OpeningException, Queue, WeeklySlot


@functools.lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def _within(moment: datetime.time, opens: datetime.time, closes: datetime.time) -> bool:
    return opens <= moment and (closes == MIDNIGHT or moment < closes)


def is_open(*, queue: Queue, at: datetime.datetime) -> bool:
    local = at.astimezone(zoneinfo.ZoneInfo(queue.time_zone))
    exception = OpeningException.objects.filter(queue=queue, date=local.date()).first()
    # Lazy: read only when neither an exception nor a holiday decides.
    slots = WeeklySlot.objects.filter(queue=queue, weekday=local.weekday()).values_list("opens", "closes")
    return _open_at(local, queue=queue, exception=exception, slots=slots)


def open_states(*, queues: Iterable[Queue], at: datetime.datetime) -> dict[int, bool]:
    """`is_open` for many queues at once, in two queries (lists of queues in the API)."""
    queues = list(queues)
    local = {queue.pk: at.astimezone(zoneinfo.ZoneInfo(queue.time_zone)) for queue in queues}
    exceptions = {
        (exception.queue_id, exception.date): exception
        for exception in OpeningException.objects.filter(
            queue_id__in=list(local), date__in={moment.date() for moment in local.values()}
        )
    }
    slots: dict[tuple[int, int], list] = defaultdict(list)
    for queue_id, weekday, opens, closes in WeeklySlot.objects.filter(queue_id__in=list(local)).values_list(
        "queue_id", "weekday", "opens", "closes"
    ):
        slots[(queue_id, weekday)].append((opens, closes))
    return {
        queue.pk: _open_at(
            local[queue.pk],
            queue=queue,
            exception=exceptions.get((queue.pk, local[queue.pk].date())),
            slots=slots[(queue.pk, local[queue.pk].weekday())],
        )
        for queue in queues
    }


def _open_at(local: datetime.datetime, *, queue: Queue, exception: OpeningException | None, slots) -> bool:
    """The rule: a dated exception decides, else a public holiday closes, else the weekly slots."""
    day, moment = local.date(), local.time()
    if exception is not None:
        return not exception.closed and _within(moment, exception.opens, exception.closes)
    if queue.holiday_country and day in _holidays(queue.holiday_country.upper(), day.year):
        return False
    return any(_within(moment, opens, closes) for opens, closes in slots)


def holiday_name(*, queue: Queue, day: datetime.date) -> str | None:
    if not queue.holiday_country:
        return None
    return _holidays(queue.holiday_country.upper(), day.year).get(day)


def hours_on(*, queue: Queue, day: datetime.date) -> list[tuple[datetime.time, datetime.time]]:
    """The opening hours of one day, in the queue's time zone: exceptions and holidays first."""
    exception = OpeningException.objects.filter(queue=queue, date=day).first()
    if exception is not None:
        return [] if exception.closed else [(exception.opens, exception.closes)]
    if queue.holiday_country and day in _holidays(queue.holiday_country.upper(), day.year):
        return []
    return list(
        WeeklySlot.objects.filter(queue=queue, weekday=day.weekday()).order_by("opens").values_list("opens", "closes")
    )


def hours_text(*, queue: Queue, at: datetime.datetime) -> str:
    """Today's hours as people write them, e.g. "9:00–14:30"; empty when closed all day."""
    day = at.astimezone(zoneinfo.ZoneInfo(queue.time_zone)).date()

    def hhmm(moment: datetime.time) -> str:
        return "24:00" if moment == MIDNIGHT else f"{moment.hour}:{moment.minute:02d}"

    return ", ".join(f"{hhmm(opens)}–{hhmm(closes)}" for opens, closes in hours_on(queue=queue, day=day))
