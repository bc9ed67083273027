"""Quality: how long transcripts are kept (S6), review forms with their checklists, and the
reviews scored with them (S7). See docs/quality.md."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.models import Conversation
from routing.models import Queue

MAX_ITEM_SCORE = 10


class QueueRetention(models.Model):
    """How long a queue's transcripts are kept after the chat ends. No row, or no days: forever."""

    queue = models.OneToOneField(
        Queue, on_delete=models.CASCADE, related_name="transcript_retention", verbose_name=_("queue")
    )
    transcript_days = models.PositiveIntegerField(
        _("keep transcripts for (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Messages, notes and pre-chat answers are removed this many days after the chat ended. Empty: kept forever."
        ),
    )

    class Meta:
        verbose_name = _("transcript retention")
        verbose_name_plural = _("transcript retention")
        ordering = ["queue__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(transcript_days__isnull=True) | models.Q(transcript_days__gte=1),
                name="queue_retention_days_positive",
            )
        ]

    def __str__(self) -> str:
        return str(self.queue)


class PurgedTranscript(models.Model):
    """A conversation whose transcript was removed; the conversation row, its events, work
    items and reviews stay."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="purged_transcript", verbose_name=_("conversation")
    )
    purged_at = models.DateTimeField(_("removed"))
    retention_days = models.PositiveIntegerField(_("retention (days)"))
    messages_deleted = models.PositiveIntegerField(_("messages removed"), default=0)

    class Meta:
        verbose_name = _("removed transcript")
        verbose_name_plural = _("removed transcripts")
        ordering = ["-purged_at"]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.purged_at:%Y-%m-%d}"


class ReviewForm(models.Model):
    """A checklist reviewers score conversations with: for one queue, or for every queue."""

    name = models.CharField(_("name"), max_length=120)
    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_forms",
        verbose_name=_("queue"),
        help_text=_("Empty: used for every queue."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("review form")
        verbose_name_plural = _("review forms")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class ReviewItem(models.Model):
    """One point of a checklist. Scored 0..max_score; below pass_score it is failed, and a
    failed critical item fails the whole review."""

    form = models.ForeignKey(ReviewForm, on_delete=models.CASCADE, related_name="items", verbose_name=_("form"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.CharField(_("text"), max_length=300)
    max_score = models.PositiveSmallIntegerField(
        _("maximum score"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ITEM_SCORE)],
        help_text=_("1 means pass or fail; up to 10 for a scale."),
    )
    pass_score = models.PositiveSmallIntegerField(
        _("passing score"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ITEM_SCORE)],
        help_text=_("A score below this is an error. 1: only a zero fails."),
    )
    critical = models.BooleanField(
        _("critical"), default=False, help_text=_("Failing this item fails the whole review.")
    )

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_score__gte=1, max_score__lte=MAX_ITEM_SCORE),
                name="review_item_max_score_range",
            ),
            models.CheckConstraint(
                condition=models.Q(pass_score__gte=1, pass_score__lte=models.F("max_score")),
                name="review_item_pass_score_range",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.pass_score and self.max_score and self.pass_score > self.max_score:
            raise ValidationError({"pass_score": _("The passing score cannot be above the maximum score.")})


class Review(models.Model):
    """A reviewer's scoring of one agent's work in one conversation with one form. The figures
    are computed by `quality.services.review_submit` and kept when the transcript is removed."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("conversation")
    )
    form = models.ForeignKey(ReviewForm, on_delete=models.PROTECT, related_name="reviews", verbose_name=_("form"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="quality_reviews_given",
        verbose_name=_("reviewer"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="quality_reviews",
        verbose_name=_("agent"),
    )
    created_at = models.DateTimeField(_("reviewed"))
    updated_at = models.DateTimeField(_("changed"))
    comment = models.TextField(_("comment"), blank=True, max_length=4000)
    total_score = models.PositiveIntegerField(_("score"))
    max_score = models.PositiveIntegerField(_("maximum score"))
    percent = models.DecimalField(_("percent"), max_digits=4, decimal_places=1)
    passed = models.BooleanField(_("passed"), help_text=_("False when a critical item failed."))

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at"]
        permissions = [("review_conversations", _("Can review conversations"))]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "form", "reviewer"], name="review_once_per_reviewer_and_form"
            ),
            models.CheckConstraint(
                condition=models.Q(total_score__lte=models.F("max_score"), percent__gte=0, percent__lte=100),
                name="review_score_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "created_at"], name="review_agent_created"),
            models.Index(fields=["created_at"], name="review_created"),
        ]

    def __str__(self) -> str:
        return f"{self.form} {self.created_at:%Y-%m-%d}"


class ReviewScore(models.Model):
    """One item's score in a review. The item's maximum, passing verdict and criticality are
    copied when scored, so editing the checklist later does not rewrite past reviews."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores", verbose_name=_("review"))
    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="scores", verbose_name=_("item"))
    score = models.PositiveSmallIntegerField(_("score"))
    max_score = models.PositiveSmallIntegerField(_("maximum score"))
    failed = models.BooleanField(_("failed"))
    critical = models.BooleanField(_("critical"))
    note = models.TextField(_("note"), blank=True, max_length=2000)

    class Meta:
        verbose_name = _("item score")
        verbose_name_plural = _("item scores")
        ordering = ["item__order", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "item"], name="review_score_once_per_item"),
            models.CheckConstraint(condition=models.Q(score__lte=models.F("max_score")), name="review_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.item}: {self.score}/{self.max_score}"
