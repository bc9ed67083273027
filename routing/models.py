"""The shared routing domain: queues, skills, agents and their presence and queue membership."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_CHAT_CAPACITY = 8
MAX_CALL_CAPACITY = 1
MIDNIGHT = datetime.time(0, 0)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value}) from None


def validate_holiday_country(value: str) -> None:
    import holidays

    if value and value.upper() not in holidays.list_supported_countries():
        raise ValidationError(_("%(value)s is not a country code with a holiday calendar."), params={"value": value})


class Channel(models.TextChoices):
    CHAT = "chat", _("Chat")
    VOICE = "voice", _("Voice")
    CALLBACK = "callback", _("Callback")


def default_queue_channels() -> list[str]:
    return [Channel.CHAT]


class Skill(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    class AssignmentMode(models.TextChoices):
        OFFER = "offer", _("Offer to an agent, who accepts")
        DIRECT = "direct", _("Assign directly")

    name = models.CharField(_("name"), max_length=120, unique=True)
    channels = ArrayField(
        models.CharField(max_length=10, choices=Channel.choices),
        verbose_name=_("channels served"),
        default=default_queue_channels,
        help_text=_("Which kinds of work wait in this queue."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Helsinki", validators=[validate_time_zone]
    )
    is_active = models.BooleanField(_("active"), default=True)
    priority = models.PositiveSmallIntegerField(
        _("queue priority"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(9)],
        help_text=_("9 is most important: among equally urgent work, this queue's goes first."),
    )
    max_waiting = models.PositiveIntegerField(
        _("maximum waiting"),
        null=True,
        blank=True,
        help_text=_("When this many wait, new work goes to the overflow queue, or is refused. Empty: no limit."),
    )
    overflow_queue = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("overflow queue"),
    )
    skills = models.ManyToManyField("Skill", through="QueueSkill", related_name="queues", blank=True)
    assignment_mode = models.CharField(
        _("assignment"), max_length=10, choices=AssignmentMode.choices, default=AssignmentMode.OFFER
    )
    offer_timeout_seconds = models.PositiveIntegerField(
        _("offer time-out (seconds)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    service_level_target_seconds = models.PositiveIntegerField(
        _("service level target (seconds)"),
        default=60,
        help_text=_("Work answered within this time counts as within the service level."),
    )
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=2,
        blank=True,
        validators=[validate_holiday_country],
        help_text=_("Country code such as FI, NO, DK, SE: closed on its public holidays. Empty: none."),
    )
    welcome_message = models.TextField(
        _("welcome message"),
        blank=True,
        help_text=_(
            "Shown when a chat starts. Placeholders: {agents_available}, {queue_position}, {estimated_wait_minutes}."
        ),
    )
    closed_message = models.TextField(
        _("closed message"),
        blank=True,
        help_text=_("Shown outside opening hours, above the offline form."),
    )
    offline_form_enabled = models.BooleanField(_("offline form outside opening hours"), default=True)
    customer_grace_seconds = models.PositiveIntegerField(
        _("customer reconnect grace (seconds)"),
        default=120,
        validators=[MinValueValidator(15)],
        help_text=_("A chat ends when the customer's connection has been gone this long."),
    )
    wrap_up_seconds = models.PositiveIntegerField(
        _("wrap-up time (seconds)"),
        default=0,
        validators=[MaxValueValidator(3600)],
        help_text=_("After this queue's work the agent gets no new work for this long (or their own, if longer)."),
    )
    inactivity_warning_seconds = models.PositiveIntegerField(
        _("warn a silent customer after (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(30)],
        help_text=_("When the customer has written nothing for this long in an answered chat. Empty: never."),
    )
    inactivity_warning_text = models.TextField(
        _("inactivity warning"),
        blank=True,
        help_text=_("Empty: a standard text in the customer's language."),
    )
    inactivity_close_seconds = models.PositiveIntegerField(
        _("close a silent chat after (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(60)],
        help_text=_("Counted like the warning; must be longer than it. Empty: never."),
    )
    auto_reply_seconds = models.PositiveIntegerField(
        _("automatic reply after (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text=_("Sent once to a customer no agent has answered this long. Empty: none."),
    )
    auto_reply_text = models.TextField(
        _("automatic reply"),
        blank=True,
        help_text=_("Empty: a standard text in the customer's language. Placeholders as in the welcome message."),
    )
    alarm_waiting = models.PositiveIntegerField(
        _("alarm when this many wait"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )
    alarm_oldest_wait_seconds = models.PositiveIntegerField(
        _("alarm when the oldest has waited (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.channels:
            raise ValidationError({"channels": _("A queue serves at least one channel.")})
        if len(set(self.channels)) != len(self.channels):
            raise ValidationError({"channels": _("Each channel once, please.")})

    def clean_fields(self, exclude=None) -> None:
        super().clean_fields(exclude=exclude)
        warn, close = self.inactivity_warning_seconds, self.inactivity_close_seconds
        if warn and close and close <= warn:
            raise ValidationError({"inactivity_close_seconds": _("Close later than the warning.")})

    def serves(self, channel: str) -> bool:
        return channel in self.channels


class AgentProfile(models.Model):
    """An agent's contact-center side of a user: display name, capacity, presence."""

    class Presence(models.TextChoices):
        OFFLINE = "offline", _("Offline")
        READY = "ready", _("Ready")
        NOT_READY = "not_ready", _("Not ready")
        AWAY = "away", _("Away")
        WRAP_UP = "wrap_up", _("Wrap-up")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    display_name = models.CharField(
        _("name shown to customers"),
        max_length=80,
        blank=True,
        help_text=_("An alias or title; empty means the widget's setting decides."),
    )
    chat_capacity = models.PositiveSmallIntegerField(
        _("chat capacity"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CHAT_CAPACITY)],
        help_text=_("How many chats this agent may hold at once."),
    )
    call_capacity = models.PositiveSmallIntegerField(
        _("call capacity"),
        default=1,
        validators=[MaxValueValidator(MAX_CALL_CAPACITY)],
        help_text=_("Calls and callbacks at once: 1, or 0 for an agent who takes no calls."),
    )
    calls_block_chats = models.BooleanField(
        _("a call blocks new chats"),
        default=True,
        help_text=_("While on a call (or offered one) the agent is offered no new chat."),
    )
    chats_block_calls = models.BooleanField(
        _("a chat blocks new calls"),
        default=False,
        help_text=_("While holding any chat the agent is offered no call."),
    )
    presence = models.CharField(_("presence"), max_length=12, choices=Presence.choices, default=Presence.OFFLINE)
    presence_reason = models.CharField(_("reason"), max_length=120, blank=True)
    presence_since = models.DateTimeField(_("presence since"), auto_now_add=True)
    last_assigned_at = models.DateTimeField(_("last assignment"), null=True, blank=True)
    missed_offers = models.PositiveSmallIntegerField(_("offers missed in a row"), default=0)
    wrap_up_seconds = models.PositiveIntegerField(
        _("wrap-up time (seconds)"),
        default=0,
        validators=[MaxValueValidator(3600)],
        help_text=_("After a conversation the agent gets no new work for this long, for notes. 0: none."),
    )
    wrap_up_until = models.DateTimeField(_("in wrap-up until"), null=True, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone])
    # Work offered to or assigned to the agent now, per capacity group. Kept by database
    # triggers on routing_workitem (migration 0009), which alone may change them: the router
    # picks among a thousand agents by these without counting their work on every route.
    chats_held = models.PositiveSmallIntegerField(_("chats held"), default=0, editable=False)
    calls_held = models.PositiveSmallIntegerField(_("calls held"), default=0, editable=False)
    queues = models.ManyToManyField(Queue, through="QueueMembership", related_name="agents", blank=True)
    skills = models.ManyToManyField(Skill, through="AgentSkill", related_name="agents", blank=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        permissions = [
            ("serve_customers", _("Can serve customers")),
            ("supervise", _("Can supervise queues and agents")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(chat_capacity__gte=1, chat_capacity__lte=MAX_CHAT_CAPACITY),
                name="agent_chat_capacity_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(call_capacity__lte=MAX_CALL_CAPACITY),
                name="agent_call_capacity_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE)
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE)
    level = models.PositiveSmallIntegerField(
        _("level"), default=5, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )

    class Meta:
        verbose_name = _("agent skill")
        verbose_name_plural = _("agent skills")
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="agent_skill_unique")]

    def __str__(self) -> str:
        return f"{self.skill} ({self.level})"


class QueueSkill(models.Model):
    """A skill the queue's work needs, at least at `min_level` (R1)."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="required_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_level = models.PositiveSmallIntegerField(
        _("minimum level"), default=1, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )

    class Meta:
        verbose_name = _("required skill")
        verbose_name_plural = _("required skills")
        constraints = [models.UniqueConstraint(fields=["queue", "skill"], name="queue_skill_unique")]

    def __str__(self) -> str:
        return f"{self.skill} ≥ {self.min_level}"


class QueueMembership(models.Model):
    """An agent's place in a queue: logged on (gets automatic assignments) and priority per
    channel (R3): who gets this queue's chats first need not be who gets its calls first."""

    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="memberships")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    logged_on = models.BooleanField(_("logged on"), default=True)
    chat_priority = models.PositiveSmallIntegerField(
        _("chat priority"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(9)],
        help_text=_("1 is highest: these agents get this queue's chats first."),
    )
    call_priority = models.PositiveSmallIntegerField(
        _("call priority"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(9)],
        help_text=_("1 is highest: these agents get this queue's calls and callbacks first."),
    )

    class Meta:
        verbose_name = _("queue membership")
        verbose_name_plural = _("queue memberships")
        constraints = [models.UniqueConstraint(fields=["agent", "queue"], name="queue_membership_unique")]

    def __str__(self) -> str:
        return f"{self.agent} @ {self.queue}"


class DispositionCode(models.Model):
    """How a conversation ended up, chosen by the agent in wrap-up (sale, advice given …)."""

    name = models.CharField(_("name"), max_length=80)
    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="disposition_codes",
        verbose_name=_("queue"),
        help_text=_("Empty: offered in every queue."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("disposition code")
        verbose_name_plural = _("disposition codes")
        ordering = ["order", "name"]
        constraints = [models.UniqueConstraint(fields=["queue", "name"], name="disposition_code_unique_name")]

    def __str__(self) -> str:
        return self.name


class QueueAlarm(models.Model):
    """A queue over one of its alarm thresholds (X1), from when it crossed until it recovered."""

    class Kind(models.TextChoices):
        WAITING = "waiting", _("Too many waiting")
        OLDEST_WAIT = "oldest_wait", _("Waiting too long")

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="alarms")
    kind = models.CharField(_("alarm"), max_length=12, choices=Kind.choices)
    threshold = models.PositiveIntegerField(_("threshold"))
    value = models.PositiveIntegerField(_("value when raised"))
    peak = models.PositiveIntegerField(_("highest value"))
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)

    class Meta:
        verbose_name = _("queue alarm")
        verbose_name_plural = _("queue alarms")
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "kind"], condition=models.Q(cleared_at__isnull=True), name="queue_alarm_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.queue}: {self.get_kind_display()}"


class WeeklySlot(models.Model):
    """A queue is open from `opens` to `closes` on `weekday`, in the queue's time zone.

    `closes` of 00:00 means midnight at the end of the day, so 00:00–00:00 is all day.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="weekly_slots")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes != MIDNIGHT and self.closes <= self.opens:
            raise ValidationError({"closes": _("Closing time must be after opening time.")})


class OpeningException(models.Model):
    """A date with other hours than the weekly ones: closed, or open only from–to."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="opening_exceptions")
    date = models.DateField(_("date"))
    closed = models.BooleanField(_("closed all day"), default=True)
    opens = models.TimeField(_("opens"), null=True, blank=True)
    closes = models.TimeField(_("closes"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("exception to opening hours")
        verbose_name_plural = _("exceptions to opening hours")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["queue", "date"], name="opening_exception_unique_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.note}".strip()

    def clean(self) -> None:
        if not self.closed and (self.opens is None or self.closes is None):
            raise ValidationError(_("Give the opening and closing time, or mark the day closed."))


class Contact(models.Model):
    """The customer as one person across channels and conversations; may be anonymous."""

    visitor_id = models.UUIDField(_("visitor id"), null=True, blank=True, unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name or self.email or self.phone or _("Anonymous contact %(id)s") % {"id": self.pk}


class WorkItem(models.Model):
    """One unit of work waiting for, offered to or held by an agent, whatever its channel.

    The owning channel keeps its own record (a conversation, a call); `reference` is its id.
    """

    Channel = Channel

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered")
        ASSIGNED = "assigned", _("Assigned")
        DONE = "done", _("Done")
        ABANDONED = "abandoned", _("Abandoned")  # ended before an agent took it

    ACTIVE_STATES = (State.WAITING, State.OFFERED, State.ASSIGNED)
    HOLDING_STATES = (State.OFFERED, State.ASSIGNED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    reference = models.CharField(_("reference"), max_length=64)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="work_items")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.WAITING)
    priority = models.SmallIntegerField(_("priority"), default=0)
    agent = models.ForeignKey(AgentProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="work_items")
    enqueued_at = models.DateTimeField(_("waiting since"))
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("work item")
        verbose_name_plural = _("work items")
        indexes = [
            models.Index(fields=["queue", "state", "enqueued_at"], name="work_item_queue_waiting"),
            models.Index(fields=["agent", "state"], name="work_item_agent_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "reference"],
                condition=models.Q(state__in=["waiting", "offered", "assigned"]),
                name="work_item_one_active_per_reference",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=["offered", "assigned"]) | models.Q(agent__isnull=False),
                name="work_item_held_by_an_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.reference} ({self.state})"


class WorkItemEvent(models.Model):
    """Audit of every routing state change: offered, declined, expired, assigned, picked …"""

    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=20)
    agent = models.ForeignKey(AgentProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("work item event")
        verbose_name_plural = _("work item events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M:%S}"


class PresenceChange(models.Model):
    """Audit of agents' presence, for occupancy and reports."""

    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="presence_changes")
    presence = models.CharField(_("presence"), max_length=12, choices=AgentProfile.Presence.choices)
    reason = models.CharField(_("reason"), max_length=120, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("presence change")
        verbose_name_plural = _("presence changes")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.agent} {self.presence}"
