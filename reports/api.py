"""The report page's figures as JSON (S3, S4; docs/api.md): the KPIs and the four tables.

The filters are the page's `ReportFilterForm`, so the API and the page follow one rule:
agents see only their own figures, supervisors any agent's or all.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.api_errors import error_responses
from contactcenter.api_lists import refuse_unknown
from contactcenter.middleware import user_time_zone
from routing.api import ServesOrSupervises
from routing.models import Channel

from . import kpis, tables
from .forms import ReportFilterForm

# The API's names for the form's fields.
PARAMS = {"from": "date_from", "to": "date_to", "queue": "queue", "channel": "channel", "agent": "agent", "tz": "tz"}


class ReportQuery(serializers.Serializer):
    """For the schema and the allowlist; the form validates the values."""

    queue = serializers.IntegerField(required=False, help_text="One of the caller's queues (all of them by default).")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    agent = serializers.IntegerField(
        required=False, help_text="Supervisors only: an agent's user id. Agents always get their own figures."
    )
    tz = serializers.CharField(required=False, help_text="Time zone of the days and hours; the caller's by default.")

    def get_fields(self):
        # "from" is a Python keyword, so these two cannot be class attributes.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, help_text="First day (default: the 1st of this month).")
        fields["to"] = serializers.DateField(required=False, help_text="Last day, inclusive (default: today).")
        return fields


class AppliedFilters(serializers.Serializer):
    queue = serializers.IntegerField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    agent = serializers.IntegerField(allow_null=True, help_text="The agent whose figures these are; null: all.")
    tz = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        fields["to"] = serializers.DateField()
        return fields


class KpiOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField(help_text="s, %, n (a count), x (a ratio) or 1–5.")


class KpisOutput(serializers.Serializer):
    filters = AppliedFilters()
    kpis = KpiOutput(many=True)


class TableRowOutput(serializers.Serializer):
    label = serializers.CharField()
    cells = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()


class TableOutput(serializers.Serializer):
    key = serializers.ChoiceField(choices=tables.TABLES)
    title = serializers.CharField()
    row_label = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = TableRowOutput(many=True)
    column_totals = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    filters = AppliedFilters()


def report_filters(request) -> tuple[ReportFilterForm, tables.Filters]:
    """The query string through the report page's form; refused with 400 in the API's shape.
    `agent` is no filter for agents: their form has no such field."""
    data = {PARAMS[name]: value for name, value in request.query_params.items() if name in PARAMS}
    # Default days and time zone in the caller's zone, also for a token (authenticated after
    # the middleware).
    with timezone.override(user_time_zone(request.user)):
        form = ReportFilterForm(data, user=request.user)
        refuse_unknown(request, {name for name, field in PARAMS.items() if field in form.fields})
        if not form.is_valid():
            api_names = {field: name for name, field in PARAMS.items()}
            raise ValidationError({api_names.get(field, field): errors for field, errors in form.errors.items()})
        return form, form.filters()


def applied(form: ReportFilterForm, filters: tables.Filters) -> dict:
    return {
        "from": filters.date_from.isoformat(),
        "to": filters.date_to.isoformat(),
        "queue": form.cleaned_data.get("queue"),
        "channel": filters.channel,
        "agent": filters.agent_id,
        "tz": filters.tz.key,
    }


class ReportKpisApi(APIView):
    permission_classes = [IsAuthenticated, ServesOrSupervises]

    @extend_schema(
        operation_id="report_kpis",
        parameters=[ReportQuery],
        responses={200: KpisOutput, **error_responses(400, 401, 403, 429)},
    )
    def get(self, request):
        form, filters = report_filters(request)
        figures = [
            {"key": kpi.key, "label": str(kpi.label), "value": kpi.value, "unit": kpi.unit}
            for kpi in kpis.kpis(filters)
        ]
        return Response({"filters": applied(form, filters), "kpis": figures})


class ReportTableApi(APIView):
    permission_classes = [IsAuthenticated, ServesOrSupervises]

    @extend_schema(
        operation_id="report_table",
        parameters=[
            ReportQuery,
            OpenApiParameter("table", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(tables.TABLES)),
        ],
        responses={200: TableOutput, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request, table: str):
        if table not in tables.TABLES:
            raise NotFound
        form, filters = report_filters(request)
        built = tables.build(table, filters)
        return Response(
            {
                "key": built.key,
                "title": built.title,
                "row_label": built.row_label,
                "columns": built.columns,
                "rows": [{"label": label, "cells": cells, "total": total} for label, cells, total in built.body()],
                "column_totals": built.column_totals,
                "total": built.total,
                "filters": applied(form, filters),
            }
        )
