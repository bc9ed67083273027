from django.urls import path

from . import api, views

urlpatterns = [
    path("reports/", views.report_page, name="reports"),
    path("api/v1/reports/kpis", api.ReportKpisApi.as_view(), name="api-report-kpis"),
    path("api/v1/reports/tables/<slug:table>", api.ReportTableApi.as_view(), name="api-report-table"),
]
