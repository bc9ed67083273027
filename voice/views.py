"""Server-rendered voice pages: the recordings archive, one call with its history and its
recordings, and the recording's audio for playback or download."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routing.models import AgentProfile
from routing.selectors import agent_queues

from . import selectors, services
from .models import Prompt, Recording
from .services import VoiceError

PAGE_SIZE = 50


class RecordingFilter(forms.Form):
    queue = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Queue"))
    agent = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("Agent"))
    caller = forms.CharField(required=False, max_length=120, label=gettext_lazy("Caller (name or number)"))
    date_from = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=gettext_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        queues = agent_queues(user=user).order_by("name")
        self.fields["queue"].queryset = queues
        self.fields["queue"].empty_label = _("All queues")
        self.fields["agent"].queryset = (
            AgentProfile.objects.filter(memberships__queue__in=queues.values("pk"))
            .select_related("user")
            .distinct()
            .order_by("user__first_name", "user__last_name", "user__username")
        )
        self.fields["agent"].empty_label = _("All agents")


def _require_listener(user) -> None:
    if not selectors.can_listen(user):
        raise PermissionDenied


@login_required
def recordings(request):
    _require_listener(request.user)
    filters = RecordingFilter(request.GET or None, user=request.user)
    values = filters.cleaned_data if filters.is_valid() else {}
    found = selectors.recordings_for(
        user=request.user,
        queue_id=values["queue"].pk if values.get("queue") else None,
        agent_id=values["agent"].pk if values.get("agent") else None,
        caller=values.get("caller", ""),
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "voice/recordings.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


@login_required
def recording_detail(request, recording_id):
    _require_listener(request.user)
    try:
        recording = selectors.recording_for(user=request.user, recording_id=recording_id)
    except Recording.DoesNotExist:
        raise Http404 from None
    call = recording.call
    return render(
        request,
        "voice/recording.html",
        {
            "recording": recording,
            "call": call,
            "history": selectors.call_history(call),
            "wait_seconds": selectors.wait_seconds(call),
            "other_recordings": selectors.recordings_for(user=request.user).filter(call=call).exclude(pk=recording.pk),
            "playback": bool(settings.CC_RECORDINGS_PRIVATE_KEY),
        },
    )


@login_required
def recording_audio(request, recording_id):
    """The unsealed audio: inline for the page's player, or as a download (?download=1)."""
    _require_listener(request.user)
    try:
        recording = selectors.recording_for(user=request.user, recording_id=recording_id)
        audio = services.recording_audio(recording=recording, user=request.user)
    except Recording.DoesNotExist:
        raise Http404 from None
    except VoiceError as error:
        return HttpResponse(error.message, status=409 if error.code != "not_found" else 404, content_type="text/plain")
    response = HttpResponse(audio, content_type="audio/ogg")
    response["Cache-Control"] = "no-store"
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="call-{recording.started_at:%Y%m%d-%H%M%S}.ogg"'
    return response


@login_required
def prompt_audio(request, prompt_id: int):
    """A prompt as callers hear it, for the console's player (staff who may view prompts)."""
    if not request.user.is_staff or not request.user.has_perm("voice.view_prompt"):
        raise PermissionDenied
    prompt = Prompt.objects.filter(pk=prompt_id).first()
    if prompt is None or not prompt.audio:
        raise Http404
    with prompt.audio.open("rb") as audio:
        response = HttpResponse(audio.read(), content_type="audio/wav")
    response["Cache-Control"] = "private, max-age=300"
    return response
