"""Opening hours: weekly slots, dated exceptions and public holidays, in the queue's time zone."""

from __future__ import annotations

import datetime
import functools
import zoneinfo

import holidays

from .models import MIDNIGHT, OpeningException, Queue, WeeklySlot


@functools.lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def _within(moment: datetime.time, opens: datetime.time, closes: datetime.time) -> bool:
    return opens <= moment and (closes == MIDNIGHT or moment < closes)


def is_open(*, queue: Queue, at: datetime.datetime) -> bool:
    local = at.astimezone(zoneinfo.ZoneInfo(queue.time_zone))
    day, moment = local.date(), local.time()
    exception = OpeningException.objects.filter(queue=queue, date=day).first()
    if exception is not None:
        return not exception.closed and _within(moment, exception.opens, exception.closes)
    if queue.holiday_country and day in _holidays(queue.holiday_country.upper(), day.year):
        return False
    slots = WeeklySlot.objects.filter(queue=queue, weekday=day.weekday()).values_list("opens", "closes")
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
