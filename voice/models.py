"""Voice: calls and their history, per-queue call settings, and the sealed recordings."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from routing.models import AgentProfile, Contact, Queue


def new_token_nonce() -> str:
    return secrets.token_urlsafe(12)


def validate_digit(value: str) -> None:
    if value not in DIGITS:
        raise ValidationError(_("One key of the keypad: 0-9, * or #."))


DIGITS = "0123456789*#"
MAX_NUMBER_PROMPT = 20


class Prompt(models.Model):
    """Audio played to callers: uploaded once, converted once to 48 kHz mono (the media
    format), played from that. System prompts (digits, the recorded-call notice, queue
    announcements) have a purpose and a language; a missing one falls back to the prompts
    bundled in voice/prompts/system."""

    class Purpose(models.TextChoices):
        GENERAL = "general", _("Greeting, menu or message")
        HOLD_MUSIC = "hold_music", _("Hold music")
        RECORDED = "recorded", _("'This call is recorded'")
        POSITION_BEFORE = "position_before", _("'You are number …'")
        POSITION_AFTER = "position_after", _("'… in the queue'")
        MANY_AHEAD = "many_ahead", _("'More than twenty callers are waiting before you'")
        WAIT_BEFORE = "wait_before", _("'The estimated waiting time is about …'")
        WAIT_AFTER = "wait_after", _("'… minutes'")
        YOU_ENTERED = "you_entered", _("'You entered …'")
        CONFIRM = "confirm", _("'Press # to confirm, * to enter again'")
        INVALID = "invalid", _("'That is not one of the choices'")
        GOODBYE = "goodbye", _("'Thank you for calling. Goodbye.'")
        NUMBER = "number", _("A number (0-20)")

    SYSTEM_PURPOSES = (
        "recorded",
        "position_before",
        "position_after",
        "many_ahead",
        "wait_before",
        "wait_after",
        "you_entered",
        "confirm",
        "invalid",
        "goodbye",
    )

    name = models.CharField(_("name"), max_length=120)
    purpose = models.CharField(_("used as"), max_length=20, choices=Purpose.choices, default=Purpose.GENERAL)
    number = models.PositiveSmallIntegerField(
        _("number"), null=True, blank=True, validators=[MaxValueValidator(MAX_NUMBER_PROMPT)]
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, help_text=_("Empty: any language.")
    )
    original = models.FileField(_("uploaded file"), upload_to="prompts/original/")
    audio = models.FileField(_("converted audio"), upload_to="prompts/ready/", editable=False)
    duration_seconds = models.DecimalField(_("length (seconds)"), max_digits=7, decimal_places=2, editable=False)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "language", "number"],
                condition=~models.Q(purpose__in=["general", "hold_music"]),
                nulls_distinct=False,
                name="prompt_one_system_prompt_per_language",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})" if self.language else self.name

    def clean(self) -> None:
        if self.purpose == self.Purpose.NUMBER and self.number is None:
            raise ValidationError({"number": _("Which number this prompt says.")})
        if self.purpose != self.Purpose.NUMBER:
            self.number = None


class IvrMenu(models.Model):
    """A spoken menu (V2): a greeting, the choices, 2 to 6 options; the caller keys a digit.
    Closed by a queue's opening hours, it plays its closed greeting instead and hangs up (V3)."""

    class NoChoice(models.TextChoices):
        HANG_UP = "hang_up", _("Say goodbye and hang up")
        QUEUE = "queue", _("Put the caller in a queue")

    name = models.CharField(_("name"), max_length=120, unique=True)
    greeting = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("greeting"),
        help_text=_("Played once, when the caller enters this menu."),
    )  # fmt: skip
    menu_prompt = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, related_name="+", verbose_name=_("choices"),
        help_text=_("The menu itself: 'For … press 1' and so on; repeated until the caller chooses."),
    )  # fmt: skip
    hours_queue = models.ForeignKey(
        Queue, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("open by the hours of"), help_text=_("Empty: always open."),
    )  # fmt: skip
    closed_prompt = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("closed greeting"), help_text=_("Played instead of the menu outside opening hours."),
    )  # fmt: skip
    timeout_seconds = models.PositiveSmallIntegerField(
        _("wait for a key (seconds)"), default=6, validators=[MinValueValidator(2), MaxValueValidator(30)]
    )
    max_tries = models.PositiveSmallIntegerField(
        _("tries"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("After this many silences or wrong keys, the 'no choice' action follows."),
    )  # fmt: skip
    no_choice = models.CharField(_("no choice"), max_length=10, choices=NoChoice.choices, default=NoChoice.HANG_UP)
    no_choice_queue = models.ForeignKey(
        Queue, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("queue if no choice")
    )

    class Meta:
        verbose_name = _("IVR menu")
        verbose_name_plural = _("IVR menus")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.no_choice == self.NoChoice.QUEUE and self.no_choice_queue is None:
            raise ValidationError({"no_choice_queue": _("Which queue takes callers who choose nothing.")})


class IvrOption(models.Model):
    """One key of a menu and what it does."""

    class Action(models.TextChoices):
        QUEUE = "queue", _("Go to a queue")
        SUBMENU = "submenu", _("Go to another menu")
        REPEAT = "repeat", _("Repeat the menu")
        COLLECT = "collect", _("Collect digits, read them back, confirm with #, then go to a queue")
        MESSAGE = "message", _("Play a message, then the menu again")

    MIN_PER_MENU, MAX_PER_MENU = 2, 6

    menu = models.ForeignKey(IvrMenu, on_delete=models.CASCADE, related_name="options", verbose_name=_("menu"))
    digit = models.CharField(_("key"), max_length=1, validators=[validate_digit])
    label = models.CharField(_("label"), max_length=80, help_text=_("For reports and the call's history."))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    queue = models.ForeignKey(
        Queue, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("queue")
    )
    submenu = models.ForeignKey(
        IvrMenu, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("submenu")
    )
    prompt = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("prompt"),
        help_text=_("The message, or the question before collecting digits ('Key your customer number, then #')."),
    )  # fmt: skip
    collect_min = models.PositiveSmallIntegerField(
        _("fewest digits"), default=1, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    collect_max = models.PositiveSmallIntegerField(
        _("most digits"), default=12, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )

    class Meta:
        verbose_name = _("IVR option")
        verbose_name_plural = _("IVR options")
        ordering = ["menu", "digit"]
        constraints = [models.UniqueConstraint(fields=["menu", "digit"], name="ivr_option_one_per_key")]

    def __str__(self) -> str:
        return f"{self.digit}: {self.label}"

    def clean(self) -> None:
        needs = {
            self.Action.QUEUE: ("queue",),
            self.Action.SUBMENU: ("submenu",),
            self.Action.COLLECT: ("queue", "prompt"),
            self.Action.MESSAGE: ("prompt",),
        }.get(self.action, ())
        missing = {name: _("Needed for this action.") for name in needs if getattr(self, f"{name}_id") is None}
        if missing:
            raise ValidationError(missing)
        if self.action == self.Action.COLLECT and self.collect_min > self.collect_max:
            raise ValidationError({"collect_max": _("At least the fewest digits.")})
        if self.action == self.Action.SUBMENU and self.submenu_id is not None and self.submenu_id == self.menu_id:
            raise ValidationError({"submenu": _("A menu cannot lead to itself; use 'Repeat the menu'.")})


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
    entry_menu = models.ForeignKey(
        IvrMenu, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("IVR menu first"),
        help_text=_("Calls to this queue's widget walk this menu first. Empty: straight to the queue."),
    )  # fmt: skip
    hold_music = models.ForeignKey(
        Prompt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("hold music"),
        help_text=_("Empty: the built-in music."),
    )  # fmt: skip
    announce_every_seconds = models.PositiveSmallIntegerField(
        _("announce the caller's place every (seconds)"), null=True, blank=True, default=60,
        validators=[MinValueValidator(20)], help_text=_("Empty: never."),
    )  # fmt: skip
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
        IVR = "ivr", _("In the menu")
        QUEUED = "queued", _("Waiting in the queue")
        TALKING = "talking", _("Talking")
        ON_HOLD = "on_hold", _("On hold")
        ENDED = "ended", _("Ended")

    LIVE_STATES = (State.CONNECTING, State.IVR, State.QUEUED, State.TALKING, State.ON_HOLD)

    class EndReason(models.TextChoices):
        CALLER_HUNG_UP = "caller_hung_up", _("The caller hung up")
        AGENT_HUNG_UP = "agent_hung_up", _("The agent hung up")
        CONNECTION_LOST = "connection_lost", _("The connection was lost")
        MEDIA_FAILED = "media_failed", _("The media server failed")
        CLOSED = "closed", _("Closed: the caller heard the closed greeting")
        NO_CHOICE = "no_choice", _("The caller chose nothing in the menu")

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
    collected = models.JSONField(_("keyed in the menu"), default=dict, blank=True)
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
