"""The report tables of the Helsinki deck (S3), with row and column totals, in the viewer's
time zone: contacts per hour of day × day, per hour × month, per agent × month, and per
queue × month. Counted in PostgreSQL (GROUP BY on the converted start time); the tables
are pivoted here.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

import tablib
from django.contrib.auth import get_user_model
from django.db.models import Count, F, QuerySet
from django.db.models.functions import ExtractHour, TruncDate, TruncMonth
from django.utils.translation import gettext as _

from routing.models import Queue

from .models import ContactRecord

TABLES = ("hour_day", "hour_month", "agent_month", "queue_month")


@dataclass(frozen=True)
class Filters:
    """Which contacts: started in [start, end), seen in `tz`, of some queues, a channel, an agent."""

    date_from: datetime.date
    date_to: datetime.date  # inclusive
    tz: zoneinfo.ZoneInfo
    queue_ids: tuple[int, ...] | None = None
    channel: str | None = None
    agent_id: int | None = None  # the answering agent's user id

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.date_from, datetime.time(), tzinfo=self.tz)

    @property
    def end(self) -> datetime.datetime:
        return datetime.datetime.combine(self.date_to + datetime.timedelta(days=1), datetime.time(), tzinfo=self.tz)

    def records(self) -> QuerySet[ContactRecord]:
        records = ContactRecord.objects.filter(started_at__gte=self.start, started_at__lt=self.end)
        if self.queue_ids is not None:
            records = records.filter(queue_id__in=self.queue_ids)
        if self.channel:
            records = records.filter(channel=self.channel)
        if self.agent_id is not None:
            records = records.filter(agent_id=self.agent_id)
        return records


@dataclass
class Table:
    key: str
    title: str
    row_label: str
    columns: list[str]
    rows: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def row_totals(self) -> list[int]:
        return [sum(cells) for _, cells in self.rows]

    @property
    def column_totals(self) -> list[int]:
        return [sum(cells[i] for _, cells in self.rows) for i in range(len(self.columns))]

    @property
    def total(self) -> int:
        return sum(self.row_totals)

    def body(self) -> list[tuple[str, list[int], int]]:
        return [(label, cells, sum(cells)) for label, cells in self.rows]

    def dataset(self) -> tablib.Dataset:
        data = tablib.Dataset(title=self.key[:31])
        total = _("Total")
        data.headers = [self.row_label, *self.columns, total]
        for label, cells, row_total in self.body():
            data.append([label, *cells, row_total])
        data.append([total, *self.column_totals, self.total])
        return data


def _months(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    months, month = [], date_from.replace(day=1)
    while month <= date_to:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _month_label(month: datetime.date) -> str:
    return f"{month:%m.%y}"


def _day_label(day: datetime.date) -> str:
    return f"{day.day}.{day.month}"


def _hour_rows(counts: dict, hours: tuple[int, int] | None) -> list[int]:
    seen = sorted({hour for hour, _column in counts})
    if hours is not None:
        first, last = hours
    elif seen:
        first, last = seen[0], seen[-1]
    else:
        return []
    return list(range(first, last + 1))


def hour_day(filters: Filters, *, hours: tuple[int, int] | None = None) -> Table:
    """Contacts per hour of day (rows) × day (columns: the days that had contacts)."""
    counts = _count(filters, ExtractHour("started_at", tzinfo=filters.tz), TruncDate("started_at", tzinfo=filters.tz))
    days = sorted({day for _hour, day in counts})
    table = Table("hour_day", _("Contacts per hour and day"), _("Hour"), [_day_label(day) for day in days])
    for hour in _hour_rows(counts, hours):
        table.rows.append((f"{hour:02d}", [counts.get((hour, day), 0) for day in days]))
    return table


def hour_month(filters: Filters, *, hours: tuple[int, int] | None = None) -> Table:
    """Contacts per hour of day (rows) × month (columns: every month of the range)."""
    counts = _count(filters, ExtractHour("started_at", tzinfo=filters.tz), _month(filters))
    months = _months(filters.date_from, filters.date_to)
    table = Table("hour_month", _("Contacts per hour and month"), _("Hour"), [_month_label(m) for m in months])
    for hour in _hour_rows(counts, hours):
        table.rows.append((f"{hour:02d}", [counts.get((hour, month), 0) for month in months]))
    return table


def agent_month(filters: Filters) -> Table:
    """Contacts answered per agent (rows) × month: the agent who answered first counts."""
    counts = _count(filters, F("agent_id"), _month(filters), answered_only=True)
    months = _months(filters.date_from, filters.date_to)
    table = Table("agent_month", _("Answered per agent and month"), _("Agent"), [_month_label(m) for m in months])
    users = get_user_model().objects.filter(pk__in={agent_id for agent_id, _month_key in counts})
    for user in sorted(users, key=lambda user: user.get_username().lower()):
        table.rows.append((user.get_username(), [counts.get((user.pk, month), 0) for month in months]))
    return table


def queue_month(filters: Filters) -> Table:
    """Contacts per queue (rows) × month."""
    counts = _count(filters, F("queue_id"), _month(filters))
    months = _months(filters.date_from, filters.date_to)
    table = Table("queue_month", _("Contacts per queue and month"), _("Queue"), [_month_label(m) for m in months])
    for queue in Queue.objects.filter(pk__in={queue_id for queue_id, _month_key in counts}).order_by("name"):
        table.rows.append((queue.name, [counts.get((queue.pk, month), 0) for month in months]))
    return table


def build(key: str, filters: Filters, **options) -> Table:
    return {"hour_day": hour_day, "hour_month": hour_month, "agent_month": agent_month, "queue_month": queue_month}[
        key
    ](filters, **options)


def _month(filters: Filters):
    return TruncMonth("started_at", tzinfo=filters.tz)


def _count(filters: Filters, row, column, *, answered_only: bool = False) -> dict:
    records = filters.records()
    if answered_only:
        records = records.filter(answered_at__isnull=False, agent__isnull=False)
    rows = (
        records.annotate(row_key=row, column_key=column)
        .values("row_key", "column_key")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict = defaultdict(int)
    for entry in rows:
        column_key = entry["column_key"]
        if isinstance(column_key, datetime.datetime):
            column_key = column_key.date()
        counts[(entry["row_key"], column_key)] += entry["n"]
    return counts
