"""The monthly report (S5): last month's tables and KPIs, e-mailed to supervisors once."""

from __future__ import annotations

import datetime
import zoneinfo

import tablib
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import kpis, tables
from .models import MonthlyReportSent


def previous_month(today: datetime.date) -> datetime.date:
    return (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def supervisors_to_tell() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    perm = (
        Q(groups__permissions__codename="supervise") | Q(user_permissions__codename="supervise") | Q(is_superuser=True)
    )
    return sorted(set(users.filter(perm).values_list("email", flat=True)))


def workbook(filters: tables.Filters) -> bytes:
    book = tablib.Databook()
    summary = tablib.Dataset(title=_("Key figures")[:31], headers=[_("KPI"), _("Value"), _("Unit")])
    for kpi in kpis.kpis(filters):
        summary.append([kpi.label, "" if kpi.value is None else kpi.value, kpis.unit_label(kpi.unit)])
    book.add_sheet(summary)
    for key in tables.TABLES:
        book.add_sheet(tables.build(key, filters).dataset())
    return book.export("xlsx")


def monthly_report_send(*, today: datetime.date | None = None) -> bool:
    """Send last month's report unless it went out already; a failed send is retried later."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    today = today or timezone.localdate(timezone=zone)
    month = previous_month(today)
    recipients = supervisors_to_tell()
    try:
        with transaction.atomic():
            MonthlyReportSent.objects.create(month=month, recipients=len(recipients))
            if recipients:
                last_day = today.replace(day=1) - datetime.timedelta(days=1)
                filters = tables.Filters(date_from=month, date_to=last_day, tz=zone)
                with translation.override(settings.LANGUAGE_CODE):
                    subject = _("Contact center report %(month)s") % {"month": f"{month:%m/%Y}"}
                    lines = [f"{kpi.label}: {'–' if kpi.value is None else kpi.value} {kpis.unit_label(kpi.unit)}"
                             for kpi in kpis.kpis(filters)]  # fmt: skip
                    mail = EmailMessage(subject, "\n".join(lines), to=recipients)
                    mail.attach(f"report-{month:%Y-%m}.xlsx", workbook(filters),
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
                mail.send()
    except IntegrityError:
        return False  # sent already, by this or another beat
    return True
