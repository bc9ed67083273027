"""The configuration console for quality: transcript retention per queue, review forms with
their checklists; reviews and removed transcripts read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import PurgedTranscript, QueueRetention, Review, ReviewForm, ReviewItem, ReviewScore


@admin.register(QueueRetention)
class QueueRetentionAdmin(admin.ModelAdmin):
    list_display = ["queue", "transcript_days"]
    list_select_related = ["queue"]
    list_editable = ["transcript_days"]
    search_fields = ["queue__name"]
    autocomplete_fields = ["queue"]


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    extra = 1
    fields = ["order", "text", "max_score", "pass_score", "critical"]


@admin.register(ReviewForm)
class ReviewFormAdmin(admin.ModelAdmin):
    list_display = ["name", "queue", "is_active", "item_count"]
    list_select_related = ["queue"]
    list_filter = ["is_active", "queue"]
    search_fields = ["name"]
    autocomplete_fields = ["queue"]
    inlines = [ReviewItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewForm]:
        return super().get_queryset(request).annotate(item_total=Count("items"))

    @admin.display(description=_("items"), ordering="item_total")
    def item_count(self, form: ReviewForm) -> int:
        return form.item_total


class ReviewScoreInline(admin.TabularInline):
    model = ReviewScore
    extra = 0
    fields = ["item", "score", "max_score", "failed", "critical", "note"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewScore]:
        return super().get_queryset(request).select_related("item")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews are made on the quality pages; here they are read and filtered."""

    list_display = ["created_at", "form", "agent", "reviewer", "total_score", "max_score", "percent", "passed"]
    list_select_related = ["form", "agent", "reviewer"]
    list_filter = ["passed", "form", "form__queue", "created_at"]
    search_fields = ["agent__username", "agent__first_name", "agent__last_name", "comment"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [ReviewScoreInline]
    fields = [
        "conversation", "form", "agent", "reviewer", "created_at", "updated_at",
        "total_score", "max_score", "percent", "passed", "comment",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PurgedTranscript)
class PurgedTranscriptAdmin(admin.ModelAdmin):
    list_display = ["purged_at", "conversation", "retention_days", "messages_deleted"]
    list_select_related = ["conversation__contact"]
    date_hierarchy = "purged_at"
    show_full_result_count = False
    fields = ["conversation", "purged_at", "retention_days", "messages_deleted"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
