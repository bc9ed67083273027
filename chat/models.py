"""Chat: widgets that customers start conversations from."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from routing.models import Queue


class Widget(models.Model):
    """One embeddable chat button: its key, where it may be embedded and where chats go."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_('Used in the embed tag: data-widget="KEY".'),
    )
    name = models.CharField(_("name"), max_length=120)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="widgets", verbose_name=_("queue"))
    allowed_origins = models.TextField(
        _("allowed embedding origins"),
        blank=True,
        help_text=_("One origin per line, e.g. https://www.example.fi. Empty allows any origin."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#1f5f8b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f5f8b."))],
    )

    class Meta:
        verbose_name = _("widget")
        verbose_name_plural = _("widgets")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"
