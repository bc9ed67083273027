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
