"""The configuration console for voice: each queue's call settings (recording, retention);
calls and recordings read-only (recordings are heard on the recordings page, not here)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Call, CallEvent, QueueVoice, Recording


@admin.register(QueueVoice)
class QueueVoiceAdmin(admin.ModelAdmin):
    list_display = ["queue", "record_calls", "recording_retention_months"]
    list_select_related = ["queue"]
    list_filter = ["record_calls", "recording_retention_months"]
    autocomplete_fields = ["queue"]
    search_fields = ["queue__name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CallEventInline(admin.TabularInline):
    model = CallEvent
    extra = 0
    fields = ["at", "kind", "agent", "data"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "queue", "caller_name", "agent", "state", "end_reason", "record"]
    list_select_related = ["queue", "agent__user"]
    list_filter = ["state", "queue", "record"]
    search_fields = ["caller_name", "caller_number"]
    date_hierarchy = "started_at"
    inlines = [CallEventInline]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "queue", "agent", "call", "size_bytes", "keep_until"]
    list_select_related = ["queue", "agent__user", "call"]
    list_filter = ["queue"]
    date_hierarchy = "started_at"
    readonly_fields = ["certificate_fingerprint"]
    fieldsets = [(None, {"fields": ["call", "queue", "agent", "started_at", "ended_at", "keep_until", "size_bytes"]}),
                 (_("Sealing"), {"fields": ["certificate_fingerprint", "file_name"]})]  # fmt: skip
