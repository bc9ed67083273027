"""python manage.py report hour_day|hour_month|agent_month|queue_month --from D --to D
[--queue NAME] [--tz ZONE] --format csv|xlsx [--output FILE]: the report tables for scripts."""

from __future__ import annotations

import datetime
import sys
import zoneinfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports import tables
from routing.models import Queue


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from None


class Command(BaseCommand):
    help = "Print or write one of the report tables as CSV or Excel."

    def add_arguments(self, parser):
        parser.add_argument("table", choices=tables.TABLES)
        parser.add_argument("--from", dest="date_from", required=True)
        parser.add_argument("--to", dest="date_to", required=True)
        parser.add_argument("--queue", help="A queue's name; all queues when left out.")
        parser.add_argument("--tz", default=settings.TIME_ZONE)
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--output", help="A file; standard output when left out (CSV only).")

    def handle(self, *args, table, date_from, date_to, queue, tz, format, output, **options):  # noqa: A002
        start, end = _date(date_from), _date(date_to)
        if end < start:
            raise CommandError("--to is before --from")
        try:
            zone = zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"unknown time zone: {tz}") from None
        queue_ids = None
        if queue:
            found = Queue.objects.filter(name=queue).first()
            if found is None:
                raise CommandError(f"no queue named {queue!r}")
            queue_ids = (found.pk,)
        data = tables.build(table, tables.Filters(date_from=start, date_to=end, tz=zone, queue_ids=queue_ids)).dataset()
        body = data.export(format)
        if output:
            mode = "wb" if isinstance(body, bytes) else "w"
            with open(output, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as stream:
                stream.write(body)
            self.stdout.write(f"{table}: {len(data)} rows written to {output}")
        elif isinstance(body, bytes):
            raise CommandError("Excel needs --output FILE")
        else:
            sys.stdout.write(body)
