"""The softphone panel of the workspace, included by the workspace template: chat's page
carries it without chat knowing voice."""

from django import template
from django.conf import settings
from django.utils.translation import gettext as _

from routing.models import AgentProfile, Channel, Queue
from routing.selectors import agent_queues

register = template.Library()


def softphone_texts() -> dict[str, str]:
    return {
        "incoming": _("Incoming call"),
        "from_queue": _("Queue: %(queue)s"),
        "unknown_caller": _("Caller"),
        "answer": _("Answer"),
        "decline": _("Decline"),
        "connecting": _("Connecting the call…"),
        "queued": _("Waiting in the queue"),
        "talking": _("On the call"),
        "on_hold": _("On hold"),
        "ended": _("Call ended"),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
        "hold": _("Hold"),
        "resume": _("Resume"),
        "record": _("Record"),
        "pause_recording": _("Pause recording"),
        "resume_recording": _("Resume recording"),
        "mask": _("Mask"),
        "unmask": _("End masking"),
        "recording": _("Recording"),
        "recording_paused": _("Recording paused"),
        "recording_masked": _("Recording masked"),
        "hang_up": _("Hang up"),
        "transfer": _("Transfer"),
        "transferred": _("The call went back to a queue."),
        "no_microphone": _("Your microphone could not be used: allow it for this site."),
        "error": _("Call: %(message)s"),
        "monitored": _("%(name)s is listening to this call."),
        "whispering": _("%(name)s is whispering to you."),
    }


def monitor_texts() -> dict[str, str]:
    return {
        "none": _("No calls right now."),
        "waiting": _("Waiting"),
        "connecting": _("Connecting"),
        "ivr": _("In the menu"),
        "queued": _("In the queue"),
        "talking": _("Talking"),
        "on_hold": _("On hold"),
        "listen": _("Listen"),
        "listen_label": _("Listen to the call of %(caller)s with %(agent)s"),
        "whisper": _("Whisper to the agent"),
        "stop_whisper": _("Stop whispering"),
        "stop": _("Stop listening"),
        "listening": _("Listening"),
        "unknown_caller": _("Caller"),
        "no_microphone": _("Your microphone could not be used: allow it for this site."),
        "error": _("Call: %(message)s"),
    }


@register.inclusion_tag("voice/live_calls.html")
def live_calls() -> dict:
    return {"texts": monitor_texts(), "config": {"voice_processing": settings.CC_CALL_VOICE_PROCESSING}}


@register.inclusion_tag("voice/softphone.html", takes_context=True)
def softphone(context) -> dict:
    user = context["request"].user
    colleagues = (
        AgentProfile.objects.filter(call_capacity__gte=1, memberships__queue__in=agent_queues(user=user).values("pk"))
        .exclude(user=user)
        .select_related("user")
        .distinct()
        .order_by("user__first_name", "user__last_name")
    )
    return {
        "colleagues": colleagues,
        "texts": softphone_texts(),
        "config": {"voice_processing": settings.CC_CALL_VOICE_PROCESSING},
        "call_queues": Queue.objects.filter(is_active=True, channels__contains=[Channel.VOICE]).order_by("name"),
    }
