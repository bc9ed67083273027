"""The report page (S3–S5): filters, the tables, KPIs and charts, and their exports."""

from __future__ import annotations

import datetime

import tablib
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from quality.selectors import agent_quality
from routing.selectors import is_supervisor, serves_or_supervises

from . import charts, kpis, tables
from .forms import ReportFilterForm

EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


@login_required
def report_page(request):
    if not serves_or_supervises(request.user):
        raise PermissionDenied
    form = ReportFilterForm(request.GET or None, user=request.user)
    if not form.is_valid():
        return render(request, "reports/report.html", {"form": form}, status=400 if request.GET else 200)
    filters = form.filters()
    export, which = request.GET.get("export"), request.GET.get("table", "")
    if export:
        if export not in EXPORT_FORMATS or which not in (*tables.TABLES, "kpis", "quality"):
            return HttpResponse(_("Unknown export."), status=400, content_type="text/plain; charset=utf-8")
        return _export(filters, which, export)
    built = [tables.build(key, filters) for key in tables.TABLES]
    figures = kpis.kpis(filters)
    days = kpis.by_day(filters)
    per_queue = kpis.by_queue(filters)
    context = {
        "form": form,
        "tables": built,
        "kpis": [(kpi, kpis.unit_label(kpi.unit)) for kpi in figures],
        "trend": charts.bars(
            [(f"{d['day'].day}.{d['day'].month}", d["offered"]) for d in days], title=_("Contacts per day")
        ),
        "heat": charts.heat_map(kpis.heat_map(filters), title=_("Contacts by weekday and hour")),
        "queue_sl": charts.bars(
            [(row["queue"], row["service_level"]) for row in per_queue],
            title=_("Service level per queue"),
            unit="%",
            max_value=100,
        ),  # fmt: skip
        "per_queue": per_queue,
        "quality": quality_rows(filters),
        "query": request.GET.urlencode(),
        "own_only": not is_supervisor(request.user),
    }
    return render(request, "reports/report.html", context)


def quality_rows(filters: tables.Filters) -> list[dict]:
    """Quality review scores per agent in the period (S7): an agent sees their own only."""
    ids = [filters.agent_id] if filters.agent_id is not None else None
    figures = agent_quality(agent_user_ids=ids, start=filters.start, end=filters.end)
    users = {user.pk: user.get_username() for user in get_user_model().objects.filter(pk__in=list(figures))}
    return sorted(
        ({"agent": users.get(user_id, "?"), **values} for user_id, values in figures.items() if values["reviews"]),
        key=lambda row: row["agent"].lower(),
    )


def _export(filters: tables.Filters, which: str, export: str) -> HttpResponse:
    if which == "quality":
        data = tablib.Dataset(
            title="quality", headers=[_("Agent"), _("Reviews"), _("Mean score %"), _("Critical failures")]
        )
        for row in quality_rows(filters):
            data.append([row["agent"], row["reviews"], row["mean_percent"], row["critical_failures"]])
    elif which == "kpis":
        data = tablib.Dataset(title="kpis", headers=[_("KPI"), _("Value"), _("Unit")])
        for kpi in kpis.kpis(filters):
            data.append([kpi.label, "" if kpi.value is None else kpi.value, kpis.unit_label(kpi.unit)])
    else:
        data = tables.build(which, filters).dataset()
    content_type, extension = EXPORT_FORMATS[export]
    body = data.export(export)
    response = HttpResponse(body if isinstance(body, bytes) else body.encode("utf-8-sig"), content_type=content_type)
    stamp = f"{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="{which}-{stamp}.{extension}"'
    return response


def month_bounds(month: datetime.date) -> tuple[datetime.date, datetime.date]:
    first = month.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return first, last
