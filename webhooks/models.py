"""Outbound webhooks: endpoints admins subscribe to events, and every delivery with its fate."""

from __future__ import annotations

import secrets
import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    CONVERSATION_STARTED = "conversation.started", _("Conversation started")
    CONVERSATION_ASSIGNED = "conversation.assigned", _("Conversation assigned to an agent")
    CONVERSATION_ENDED = "conversation.ended", _("Conversation ended")
    MESSAGE_CREATED = "message.created", _("Message (customer or agent; never hidden notes)")
    CONVERSATION_RATED = "conversation.rated", _("Conversation rated")
    PUSH_AGENT_MESSAGE = "push.agent_message", _("Agent replied while the customer was away (for app pushes)")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=1000, validators=[URLValidator(schemes=["https", "http"])])
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=new_secret,
        help_text=_("Deliveries carry X-CC-Signature: HMAC-SHA256 of 'timestamp.body' with this secret."),
    )
    events = ArrayField(models.CharField(max_length=40, choices=Event.choices), verbose_name=_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event to one endpoint: written in the transaction that caused it (so a rolled-back
    change sends nothing), then sent by Celery and retried with back-off until it succeeds or
    gives up."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"
