"""Reads of voice for pages: the recordings archive and a call's history, within the queues
the reader may see."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from routing.selectors import agent_queues

from .models import Call, CallEvent, Recording


def can_listen(user) -> bool:
    return user.has_perm("voice.listen_recording")


def recordings_for(
    *,
    user,
    queue_id: int | None = None,
    agent_id: int | None = None,
    caller: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[Recording]:
    """Recordings of the queues `user` may see (a supervisor: all), newest first."""
    recordings = Recording.objects.select_related("call", "queue", "agent__user").filter(
        queue__in=agent_queues(user=user).values("pk")
    )
    if queue_id:
        recordings = recordings.filter(queue_id=queue_id)
    if agent_id:
        recordings = recordings.filter(agent_id=agent_id)
    if caller:
        recordings = recordings.filter(
            Q(call__caller_name__icontains=caller)
            | Q(call__caller_number__icontains=caller)
            | Q(call__contact__name__icontains=caller)
            | Q(call__contact__phone__icontains=caller)
        )
    zone = timezone.get_current_timezone()
    if date_from:
        recordings = recordings.filter(started_at__gte=datetime.datetime.combine(date_from, datetime.time(), zone))
    if date_to:
        end = datetime.datetime.combine(date_to + datetime.timedelta(days=1), datetime.time(), zone)
        recordings = recordings.filter(started_at__lt=end)
    return recordings.order_by("-started_at")


def recording_for(*, user, recording_id) -> Recording:
    """Fetch and authorise together. Recording.DoesNotExist otherwise."""
    return recordings_for(user=user).get(pk=recording_id)


EVENT_LABELS = {
    "started": _("The caller rang"),
    "queued": _("Waiting in the queue"),
    "assigned": _("Given to an agent"),
    "answered": _("Answered"),
    "held": _("Put on hold"),
    "resumed": _("Taken off hold"),
    "transferred": _("Transferred to a queue"),
    "transferred_to_agent": _("Transferred to a colleague"),
    "ivr": _("In the menu"),
    "menu_done": _("Chose in the menu"),
    "monitor_started": _("A supervisor started listening"),
    "monitor_ended": _("A supervisor stopped listening"),
    "whisper_started": _("A supervisor started whispering to the agent"),
    "whisper_ended": _("The supervisor stopped whispering"),
    "agent_lost": _("The agent's connection was lost; waiting again"),
    "recording_start": _("Recording started"),
    "recording_pause": _("Recording paused"),
    "recording_resume": _("Recording resumed"),
    "recording_mask": _("Recording masked"),
    "recording_unmask": _("Masking ended"),
    "recorded": _("Recording stored"),
    "recording_opened": _("Recording opened"),
    "recording_removed": _("Recording removed (retention)"),
    "ended": _("Ended"),
}


def call_history(call: Call) -> list[dict]:
    """The call's events in order, with the seconds since the call started: waits, who
    answered, holds, transfers, recording changes."""
    history = []
    for event in CallEvent.objects.filter(call=call).select_related("agent__user"):
        history.append(
            {
                "kind": event.kind,
                "label": EVENT_LABELS.get(event.kind, event.kind),
                "at": event.at,
                "offset_seconds": round((event.at - call.started_at).total_seconds()),
                "agent": str(event.agent) if event.agent else "",
                "data": event.data,
            }
        )
    return history


def wait_seconds(call: Call) -> int | None:
    """How long the caller waited in queues before an agent first answered."""
    if call.queued_at is None:
        return None
    until = call.answered_at or call.ended_at
    return round((until - call.queued_at).total_seconds()) if until else None
