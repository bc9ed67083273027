"""The report filter form: period, queue, channel, agent (supervisors only), time zone."""

from __future__ import annotations

import datetime
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from routing.models import Channel
from routing.selectors import agent_queues, is_supervisor

from .tables import Filters

MAX_DAYS = 3 * 366


def _first_of_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    queue = forms.TypedChoiceField(label=_("Queue"), required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    agent = forms.TypedChoiceField(label=_("Agent"), required=False, coerce=int, empty_value=None)
    tz = forms.CharField(label=_("Time zone"), required=False, max_length=64)

    def __init__(self, data=None, *, user, **kwargs):
        today = timezone.localdate()
        initial = {"date_from": _first_of_month(), "date_to": today, "tz": timezone.get_current_timezone_name()}
        super().__init__({**initial, **(data.dict() if hasattr(data, "dict") else data or {})}, **kwargs)
        self.user = user
        self.supervisor = is_supervisor(user)
        self.queues = list(agent_queues(user=user).order_by("name"))
        self.fields["queue"].choices = [("", _("All queues")), *[(q.pk, q.name) for q in self.queues]]
        self.fields["channel"].choices = [("", _("All channels")), *Channel.choices]
        if self.supervisor:
            agents = get_user_model().objects.filter(agent_profile__isnull=False).order_by("username")
            self.fields["agent"].choices = [("", _("All agents")), *[(u.pk, u.get_username()) for u in agents]]
        else:
            del self.fields["agent"]

    def clean_tz(self) -> str:
        name = self.cleaned_data.get("tz") or settings.TIME_ZONE
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(_("%(value)s is not a known time zone."), params={"value": name}) from None
        return name

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (end - start).days > MAX_DAYS:
                raise forms.ValidationError(_("Choose at most three years at a time."))
        return cleaned

    def filters(self) -> Filters:
        """Agents see only their own figures; supervisors any agent's, or all."""
        data = self.cleaned_data
        queue_ids = (data["queue"],) if data.get("queue") else tuple(q.pk for q in self.queues)
        agent_id = data.get("agent") if self.supervisor else self.user.pk
        return Filters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            tz=zoneinfo.ZoneInfo(data["tz"]),
            queue_ids=None if self.supervisor and not data.get("queue") else queue_ids,
            channel=data.get("channel") or None,
            agent_id=agent_id,
        )
