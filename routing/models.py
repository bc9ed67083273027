"""The shared routing domain: queues, skills, agents and their presence and queue membership."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_CHAT_CAPACITY = 8


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value}) from None


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
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Helsinki", validators=[validate_time_zone]
    )
    is_active = models.BooleanField(_("active"), default=True)
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

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """An agent's contact-center side of a user: display name, capacity, presence."""

    class Presence(models.TextChoices):
        OFFLINE = "offline", _("Offline")
        READY = "ready", _("Ready")
        NOT_READY = "not_ready", _("Not ready")
        AWAY = "away", _("Away")

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
    presence = models.CharField(_("presence"), max_length=12, choices=Presence.choices, default=Presence.OFFLINE)
    presence_reason = models.CharField(_("reason"), max_length=120, blank=True)
    presence_since = models.DateTimeField(_("presence since"), auto_now_add=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone])
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
            )
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


class QueueMembership(models.Model):
    """An agent's place in a queue: logged on (gets automatic assignments) and priority."""

    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="memberships")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    logged_on = models.BooleanField(_("logged on"), default=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=1, help_text=_("1 is highest: these agents get this queue's work first.")
    )

    class Meta:
        verbose_name = _("queue membership")
        verbose_name_plural = _("queue memberships")
        constraints = [models.UniqueConstraint(fields=["agent", "queue"], name="queue_membership_unique")]

    def __str__(self) -> str:
        return f"{self.agent} @ {self.queue}"
