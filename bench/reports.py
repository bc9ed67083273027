#!/usr/bin/env python
"""Reports benchmark: 1,000,000 contact records over a year, then the month tables and the
KPI page timed (median of 3 runs each).

Contacts are spread over 365 days with a daytime peak, 20 queues and 200 agents; 8 % are
abandoned, a tenth rated. Uses the same services `make run` uses (DATABASE_URL, or the
embedded PostgreSQL), on queues and agents of its own, which it removes afterwards.

    .venv/bin/python bench/reports.py --contacts 1000000
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
import zoneinfo

from django_services import SERVICES  # first: Django set up on the services make run uses

# isort: split
from django.contrib.auth import get_user_model
from django.db import connection

from reports import kpis, tables
from reports.models import ContactRecord
from routing.models import Queue

PREFIX = "reports-bench"
ZONE = zoneinfo.ZoneInfo("Europe/Helsinki")
FIRST_DAY = datetime.date(2025, 1, 1)

GENERATE = """
INSERT INTO reports_contactrecord (
  source, reference, channel, queue_id, agent_id, started_at, answered_at, ended_at, abandoned,
  offered_to_agent, first_response_at, customer_last_at, agent_messages, customer_messages, agents,
  transferred, rating, end_reason, target_seconds)
SELECT 'import', %(prefix)s || '-' || n, 'chat', q.id,
       CASE WHEN abandoned THEN NULL ELSE a.id END,
       started, CASE WHEN abandoned THEN NULL ELSE started + wait END,
       started + wait + handle, abandoned, NOT abandoned OR n %% 3 = 0,
       CASE WHEN abandoned THEN NULL ELSE started + wait + interval '25 seconds' END,
       started + wait + handle - interval '30 seconds',
       CASE WHEN abandoned THEN 0 ELSE 1 + n %% 9 END, 1 + n %% 7, CASE WHEN abandoned THEN 0 ELSE 1 END,
       n %% 50 = 0, CASE WHEN n %% 10 = 0 THEN 1 + n %% 5 END,
       CASE WHEN n %% 40 = 0 THEN 'inactivity' ELSE 'agent' END, 60
FROM (
  SELECT n,
         (%(first)s::date + (n %% 365) * interval '1 day'
           + (7 + (n * 7919) %% 12) * interval '1 hour' + ((n * 104729) %% 3600) * interval '1 second')
           AT TIME ZONE 'Europe/Helsinki' AS started,
         ((n * 31) %% 240) * interval '1 second' AS wait,
         (120 + (n * 17) %% 1500) * interval '1 second' AS handle,
         n %% 12 = 0 AS abandoned,
         n %% %(queues)s AS queue_index, n %% %(agents)s AS agent_index
  FROM generate_series(1::bigint, %(contacts)s) AS n
) AS g
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM routing_queue WHERE name LIKE %(like)s) AS q
  ON q.i = g.queue_index
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM auth_user WHERE username LIKE %(like)s) AS a
  ON a.i = g.agent_index
"""


def setup(contacts: int, queues: int, agents: int) -> list[int]:
    teardown()
    created = Queue.objects.bulk_create([Queue(name=f"{PREFIX}-{n:02d}", is_active=False) for n in range(queues)])
    get_user_model().objects.bulk_create([get_user_model()(username=f"{PREFIX}-{n:03d}") for n in range(agents)])
    with connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {"prefix": PREFIX, "first": FIRST_DAY, "contacts": contacts, "queues": queues, "agents": agents,
             "like": f"{PREFIX}-%"},
        )  # fmt: skip
        cursor.execute("ANALYZE reports_contactrecord")
    return [queue.pk for queue in created]


def teardown() -> None:
    queues = Queue.objects.filter(name__startswith=f"{PREFIX}-")
    ContactRecord.objects.filter(queue__in=queues).delete()
    queues.delete()
    get_user_model().objects.filter(username__startswith=f"{PREFIX}-").delete()


def timed(label: str, work, runs: int = 3) -> None:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - began)
    print(f"{label:<44} median {statistics.median(seconds) * 1000:8.0f} ms   ({result})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--agents", type=int, default=200)
    args = parser.parse_args()
    try:
        began = time.perf_counter()
        queue_ids = setup(args.contacts, args.queues, args.agents)
        print(f"setup: {args.contacts:,} contacts, {args.queues} queues, {args.agents} agents "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
        month = tables.Filters(date_from=datetime.date(2025, 10, 1), date_to=datetime.date(2025, 10, 31), tz=ZONE,
                               queue_ids=tuple(queue_ids))  # fmt: skip
        year = tables.Filters(date_from=datetime.date(2025, 1, 1), date_to=datetime.date(2025, 12, 31), tz=ZONE,
                              queue_ids=tuple(queue_ids))  # fmt: skip
        one_queue = tables.Filters(date_from=year.date_from, date_to=year.date_to, tz=ZONE, queue_ids=(queue_ids[0],))

        def table(key, filters):
            return lambda: f"total {tables.build(key, filters).total:,}"

        def figures(filters):
            return lambda: f"offered {next(k.value for k in kpis.kpis(filters) if k.key == 'offered'):,}"

        timed("hour x day, one month, all queues", table("hour_day", month))
        timed("hour x month, one year, all queues", table("hour_month", year))
        timed("agent x month, one year, all queues", table("agent_month", year))
        timed("queue x month, one year", table("queue_month", year))
        timed("hour x month, one year, one queue", table("hour_month", one_queue))
        timed("KPIs, one month, all queues", figures(month))
        timed("KPIs, one year, all queues", figures(year))

        timed("contacts per day, one month", lambda: f"{len(kpis.by_day(month))} days")
        timed("service level per queue, one month", lambda: f"{len(kpis.by_queue(month))} queues")
        timed("heat map weekday x hour, one month", lambda: f"{len(kpis.heat_map(month))} cells")

        def whole_page():
            for key in tables.TABLES:
                tables.build(key, month)
            kpis.kpis(month)
            kpis.by_day(month)
            kpis.by_queue(month)
            kpis.heat_map(month)
            return "4 tables, KPIs, 3 charts"

        timed("report page for one month (everything on it)", whole_page)
    finally:
        teardown()
        SERVICES.stop()


if __name__ == "__main__":
    main()
