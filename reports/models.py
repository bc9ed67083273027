"""Reports: one record per contact the center was offered, whatever its channel, derived from
the stored history (or imported from a former system), from which every table and KPI is
computed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from routing.models import Channel, Queue


class ContactRecord(models.Model):
    """A contact's figures: when it came, was answered and ended, by whom, and how it went.

    Live records are rebuilt from the conversation's events and messages when it ends
    (`reports.services.record_conversation`; `python manage.py rebuild_contact_records`
    recomputes them all); imported ones come from `import_history`.
    """

    class Source(models.TextChoices):
        LIVE = "live", _("This system")
        IMPORT = "import", _("Imported")

    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.LIVE)
    reference = models.CharField(_("reference"), max_length=64)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="contact_records", verbose_name=_("queue"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contact_records",
        verbose_name=_("answered by"),
    )
    started_at = models.DateTimeField(_("started"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    abandoned = models.BooleanField(_("abandoned"), default=False)
    offered_to_agent = models.BooleanField(_("offered to an agent"), default=False)
    first_response_at = models.DateTimeField(_("first agent reply"), null=True, blank=True)
    customer_last_at = models.DateTimeField(_("customer's last message"), null=True, blank=True)
    agent_messages = models.PositiveIntegerField(_("agent replies"), default=0)
    customer_messages = models.PositiveIntegerField(_("customer messages"), default=0)
    agents = models.PositiveSmallIntegerField(_("agents taking part"), default=0)
    transferred = models.BooleanField(_("transferred"), default=False)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=40, blank=True)
    target_seconds = models.PositiveIntegerField(_("service level target (seconds)"))

    class Meta:
        verbose_name = _("contact record")
        verbose_name_plural = _("contact records")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "channel", "reference"], name="contact_record_unique_reference"),
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True) | models.Q(answered_at__gte=models.F("started_at")),
                name="contact_record_answered_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="contact_record_ended_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(abandoned=True, answered_at__isnull=False),
                name="contact_record_abandoned_unanswered",
            ),
        ]
        indexes = [
            models.Index(fields=["started_at"], name="contact_record_started"),
            models.Index(fields=["queue", "started_at"], name="contact_record_queue_started"),
            models.Index(fields=["agent", "started_at"], name="contact_record_agent_started"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def wait_seconds(self) -> float | None:
        end = self.answered_at or (self.ended_at if self.abandoned else None)
        return (end - self.started_at).total_seconds() if end else None


class ContactRecordDue(models.Model):
    """A chat whose contact record is to be made or made again: it ended, or was rated after
    it ended. Written in the chat's own transaction (`chat.signals`); the beat records the
    chat and removes the row, so finding the due chats stays cheap however many have ended.
    A chat may be due twice (rated while being recorded): it is recorded twice."""

    conversation = models.ForeignKey("chat.Conversation", on_delete=models.CASCADE, related_name="+")
    due_since = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contact record due")
        verbose_name_plural = _("contact records due")

    def __str__(self) -> str:
        return str(self.conversation_id)


class MonthlyReportSent(models.Model):
    """The monthly report of `month` went out (so two beats never send it twice)."""

    month = models.DateField(_("month"), unique=True)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("monthly report sent")
        verbose_name_plural = _("monthly reports sent")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
