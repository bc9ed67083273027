"""Voice: calls and their history, per-queue call settings, and the sealed recordings."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from routing.models import AgentProfile, Contact, Queue


def new_token_nonce() -> str:
    return secrets.token_urlsafe(12)


class QueueVoice(models.Model):
    """A queue's call settings; a queue without a row records nothing and keeps defaults."""

    class Retention(models.IntegerChoices):
        ONE_MONTH = 1, _("1 month")
        SIX_MONTHS = 6, _("6 months")
        TWELVE_MONTHS = 12, _("12 months")

    queue = models.OneToOneField(Queue, on_delete=models.CASCADE, related_name="voice", verbose_name=_("queue"))
    record_calls = models.BooleanField(
        _("record every call"),
        default=False,
        help_text=_("Off: agents may still start a recording during a call."),
    )
    recording_retention_months = models.PositiveSmallIntegerField(
        _("keep recordings for"), choices=Retention.choices, default=Retention.ONE_MONTH
    )
    agent_sees_monitoring = models.BooleanField(
        _("agents see when a supervisor listens"),
        default=True,
        help_text=_("Off: supervisors listen silently, unseen. A whisper is always heard, so always shown."),
    )

    class Meta:
        verbose_name = _("queue call settings")
        verbose_name_plural = _("queue call settings")

    def __str__(self) -> str:
        return str(self.queue)


class Call(models.Model):
    """One voice interaction, from the caller's first ring to the last hang-up."""

    class State(models.TextChoices):
        CONNECTING = "connecting", _("Connecting")
        QUEUED = "queued", _("Waiting in the queue")
        TALKING = "talking", _("Talking")
        ON_HOLD = "on_hold", _("On hold")
        ENDED = "ended", _("Ended")

    LIVE_STATES = (State.CONNECTING, State.QUEUED, State.TALKING, State.ON_HOLD)

    class EndReason(models.TextChoices):
        CALLER_HUNG_UP = "caller_hung_up", _("The caller hung up")
        AGENT_HUNG_UP = "agent_hung_up", _("The agent hung up")
        CONNECTION_LOST = "connection_lost", _("The connection was lost")
        MEDIA_FAILED = "media_failed", _("The media server failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="calls", verbose_name=_("queue"))
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("caller")
    )
    caller_name = models.CharField(_("caller's name"), max_length=120, blank=True)
    caller_number = models.CharField(_("caller's number"), max_length=40, blank=True)
    origin = models.CharField(_("came from"), max_length=20, default="web", help_text=_("web, app or phone"))
    locale = models.CharField(_("language"), max_length=16, default="en")
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.CONNECTING)
    agent = models.ForeignKey(
        AgentProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("agent")
    )
    record = models.BooleanField(_("recorded"), default=False)
    recording_paused = models.BooleanField(_("recording paused"), default=False)
    recording_masked = models.BooleanField(_("recording masked"), default=False)
    customer_token_nonce = models.CharField(max_length=32, default=new_token_nonce, editable=False)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("how it ended"), max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["state", "started_at"], name="call_state_started")]

    def __str__(self) -> str:
        return f"{self.caller_name or _('Caller')} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES


class CallEvent(models.Model):
    """The call's history: queued, offered, answered, held, transferred, recording changes, ended."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=24)
    agent = models.ForeignKey(AgentProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    data = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%H:%M:%S}"


class Recording(models.Model):
    """One recorded stretch of a call with one agent: caller left, agent right, Ogg/Opus,
    sealed to the recordings certificate (voice/sealing.py) before it touches the disk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="recordings", verbose_name=_("call"))
    agent = models.ForeignKey(
        AgentProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("agent")
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="+", verbose_name=_("queue"))
    file_name = models.CharField(_("file"), max_length=200, unique=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    certificate_fingerprint = models.CharField(_("sealed for certificate"), max_length=64)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"))
    keep_until = models.DateTimeField(_("kept until"), db_index=True)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-started_at"]
        permissions = [("listen_recording", _("Can listen to and download call recordings"))]

    def __str__(self) -> str:
        return f"{self.call} ({self.started_at:%H:%M:%S})"

    @property
    def path(self):
        return settings.CC_RECORDINGS_DIR / self.file_name

    @property
    def duration_text(self) -> str:
        seconds = max(0, round((self.ended_at - self.started_at).total_seconds()))
        return f"{seconds // 60}:{seconds % 60:02d}"
