"""The KPIs of docs/kpis.md, computed in PostgreSQL over the contact records a filter selects
(S4). Each is defined there with its formula; the names here are the same."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .tables import Filters

SECONDS, PERCENT, COUNT, RATIO, SCORE = "s", "%", "n", "x", "1–5"


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: float | int | None
    unit: str


LABELS = {
    "offered": gettext_lazy("Offered"),
    "answered": gettext_lazy("Answered"),
    "abandoned": gettext_lazy("Abandoned"),
    "abandoned_after_offer": gettext_lazy("Abandoned after an offer"),
    "abandon_rate": gettext_lazy("Abandonment rate"),
    "answer_time_mean": gettext_lazy("Answer time, mean"),
    "answer_time_p90": gettext_lazy("Answer time, 90th percentile"),
    "abandon_wait_mean": gettext_lazy("Wait before abandoning, mean"),
    "first_response_mean": gettext_lazy("First response time, mean"),
    "first_response_p90": gettext_lazy("First response time, 90th percentile"),
    "handle_time_mean": gettext_lazy("Handle time, mean"),
    "service_level": gettext_lazy("Service level"),
    "csat": gettext_lazy("CSAT (ratings 4–5)"),
    "csi": gettext_lazy("CSI (mean rating)"),
    "rated": gettext_lazy("Rated"),
    "replies_per_dialogue": gettext_lazy("Replies per dialogue"),
    "closed_for_silence": gettext_lazy("Closed for the customer's silence"),
    "close_after_silence_mean": gettext_lazy("Time to close on non-response, mean"),
    "transferred": gettext_lazy("Transferred"),
    "concurrency": gettext_lazy("Concurrency (chats at once while busy)"),
    "occupancy": gettext_lazy("Occupancy"),
}
UNITS = {
    "abandon_rate": PERCENT, "answer_time_mean": SECONDS, "answer_time_p90": SECONDS, "abandon_wait_mean": SECONDS,
    "first_response_mean": SECONDS, "first_response_p90": SECONDS, "handle_time_mean": SECONDS,
    "service_level": PERCENT, "csat": PERCENT, "csi": SCORE, "replies_per_dialogue": RATIO,
    "close_after_silence_mean": SECONDS, "concurrency": RATIO, "occupancy": PERCENT,
}  # fmt: skip

_FIGURES = """
SELECT
  count(*) AS offered,
  count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
  count(*) FILTER (WHERE abandoned) AS abandoned,
  count(*) FILTER (WHERE abandoned AND offered_to_agent) AS abandoned_after_offer,
  count(*) FILTER (WHERE answered_at <= started_at + target_seconds * interval '1 second') AS within_target,
  avg(extract(epoch FROM answered_at - started_at)) AS answer_time_mean,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - started_at))
    FILTER (WHERE answered_at IS NOT NULL) AS answer_time_p90,
  avg(extract(epoch FROM ended_at - started_at)) FILTER (WHERE abandoned) AS abandon_wait_mean,
  avg(extract(epoch FROM first_response_at - answered_at)) AS first_response_mean,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - answered_at))
    FILTER (WHERE first_response_at IS NOT NULL) AS first_response_p90,
  avg(extract(epoch FROM ended_at - answered_at)) AS handle_time_mean,
  count(rating) AS rated,
  count(*) FILTER (WHERE rating >= 4) AS satisfied,
  avg(rating) AS rating_mean,
  coalesce(sum(agent_messages) FILTER (WHERE answered_at IS NOT NULL), 0) AS replies,
  count(*) FILTER (WHERE end_reason = 'inactivity') AS closed_for_silence,
  avg(extract(epoch FROM ended_at - coalesce(customer_last_at, answered_at, started_at)))
    FILTER (WHERE end_reason = 'inactivity') AS close_after_silence_mean,
  count(*) FILTER (WHERE transferred) AS transferred
FROM ({records}) AS r
"""

# Handling intervals clipped to the window; per agent their union is busy time (range_agg),
# their plain sum is handled time, so handled ÷ busy is the mean number of chats at once.
_BUSY = """
WITH h AS (
  SELECT agent_id, greatest(answered_at, %s) AS s, least(ended_at, %s) AS e
  FROM ({records}) AS r
  WHERE agent_id IS NOT NULL AND answered_at IS NOT NULL AND ended_at IS NOT NULL
)
SELECT
  (SELECT coalesce(sum(extract(epoch FROM upper(b) - lower(b))), 0)
     FROM (SELECT unnest(range_agg(tstzrange(s, e))) AS b FROM h WHERE e > s GROUP BY agent_id) AS u),
  (SELECT coalesce(sum(extract(epoch FROM e - s)), 0) FROM h WHERE e > s)
"""

# Time in a staffed presence (ready, or wrap-up), per agent, clipped to the window.
_STAFFED = """
SELECT coalesce(sum(extract(epoch FROM least(until, %s) - greatest(at, %s))), 0)
FROM (
  SELECT c.at, c.presence,
         lead(c.at, 1, now()) OVER (PARTITION BY c.agent_id ORDER BY c.at, c.id) AS until
  FROM routing_presencechange c JOIN routing_agentprofile p ON p.id = c.agent_id
  WHERE c.at < %s AND p.user_id = ANY(%s)
) AS spans
WHERE presence IN ('ready', 'wrap_up') AND until > %s
"""


def _sql(filters: Filters, columns: list[str]) -> tuple[str, list]:
    query = filters.records().values(*columns).order_by()
    sql, params = query.query.sql_with_params()
    return sql, list(params)


def figures(filters: Filters) -> dict:
    """Raw figures: counts and seconds, None where nothing was measured."""
    records_sql, params = _sql(
        filters,
        ["started_at", "answered_at", "ended_at", "abandoned", "offered_to_agent", "target_seconds",
         "first_response_at", "rating", "agent_messages", "end_reason", "customer_last_at", "transferred", "agent_id"],
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_FIGURES.format(records=records_sql), params)
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
        start, end = filters.start, filters.end
        cursor.execute(_BUSY.format(records=records_sql), [start, end, *params])
        busy, handled = cursor.fetchone()
        agent_ids = list(
            filters.records().exclude(agent_id=None).order_by().values_list("agent_id", flat=True).distinct()
        )
        staffed = 0.0
        if agent_ids:
            cursor.execute(_STAFFED, [end, start, end, agent_ids, start])
            staffed = float(cursor.fetchone()[0])
    row["busy_seconds"], row["handled_seconds"], row["staffed_seconds"] = float(busy), float(handled), staffed
    return {key: float(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, int) else value
            for key, value in row.items()}  # fmt: skip


def _share(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _round(value, digits=1):
    return round(float(value), digits) if value is not None else None


def kpis(filters: Filters) -> list[Kpi]:
    f = figures(filters)
    values = {
        "offered": f["offered"],
        "answered": f["answered"],
        "abandoned": f["abandoned"],
        "abandoned_after_offer": f["abandoned_after_offer"],
        "abandon_rate": _share(f["abandoned"], f["offered"]),
        "answer_time_mean": _round(f["answer_time_mean"]),
        "answer_time_p90": _round(f["answer_time_p90"]),
        "abandon_wait_mean": _round(f["abandon_wait_mean"]),
        "first_response_mean": _round(f["first_response_mean"]),
        "first_response_p90": _round(f["first_response_p90"]),
        "handle_time_mean": _round(f["handle_time_mean"]),
        "service_level": _share(f["within_target"], f["offered"]),
        "csat": _share(f["satisfied"], f["rated"]),
        "csi": _round(f["rating_mean"], 2),
        "rated": f["rated"],
        "replies_per_dialogue": _round(f["replies"] / f["answered"], 2) if f["answered"] else None,
        "closed_for_silence": f["closed_for_silence"],
        "close_after_silence_mean": _round(f["close_after_silence_mean"]),
        "transferred": f["transferred"],
        "concurrency": _round(f["handled_seconds"] / f["busy_seconds"], 2) if f["busy_seconds"] else None,
        "occupancy": _share(min(f["busy_seconds"], f["staffed_seconds"]), f["staffed_seconds"]),
    }
    return [Kpi(key, str(LABELS[key]), value, UNITS.get(key, COUNT)) for key, value in values.items()]


def by_queue(filters: Filters) -> list[dict]:
    """Offered, answered and service level per queue, for the per-queue chart."""
    rows = (
        filters.records()
        .values("queue_id", "queue__name")
        .annotate(
            offered=Count("pk"),
            answered=Count("pk", filter=Q(answered_at__isnull=False)),
            within=Count("pk", filter=Q(answered_at__lte=F("started_at") + _target())),
        )
        .order_by("queue__name")
    )
    return [
        {"queue": row["queue__name"], "offered": row["offered"], "answered": row["answered"],
         "service_level": _share(row["within"], row["offered"])}
        for row in rows
    ]  # fmt: skip


def _target():
    return ExpressionWrapper(F("target_seconds") * datetime.timedelta(seconds=1), output_field=DurationField())


def by_day(filters: Filters) -> list[dict]:
    rows = (
        filters.records()
        .annotate(day=TruncDate("started_at", tzinfo=filters.tz))
        .values("day")
        .annotate(
            offered=Count("pk"),
            answered=Count("pk", filter=Q(answered_at__isnull=False)),
            abandoned=Count("pk", filter=Q(abandoned=True)),
        )
        .order_by("day")
    )
    return list(rows)


def heat_map(filters: Filters) -> dict[tuple[int, int], int]:
    """Contacts per (ISO weekday 1–7, hour 0–23) in the viewer's time zone."""
    rows = (
        filters.records()
        .annotate(
            weekday=ExtractIsoWeekDay("started_at", tzinfo=filters.tz),
            hour=ExtractHour("started_at", tzinfo=filters.tz),
        )
        .values("weekday", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["weekday"], row["hour"]): row["n"] for row in rows}


def unit_label(unit: str) -> str:
    return {SECONDS: _("s"), PERCENT: "%", RATIO: "×", SCORE: "/ 5"}.get(unit, "")
