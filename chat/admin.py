"""The configuration console for chat: widgets, pre-chat forms; conversations read-only."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin

from routing.models import Queue

from .models import CannedResponse, Conversation, Message, OfflineMessage, PrechatChoice, PrechatField, Widget


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "queue", "is_active", "agent_name"]
    list_select_related = ["queue"]
    list_filter = ["is_active"]
    search_fields = ["name", "key"]
    autocomplete_fields = ["queue"]
    readonly_fields = ["embed_code"]
    fieldsets = [
        (None, {"fields": ["name", "key", "queue", "is_active", "embed_code"]}),
        (_("Where it may be embedded"), {"fields": ["allowed_origins"]}),
        (_("Look"), {"fields": ["title", "color", "agent_name", "agent_title"]}),
    ]

    @admin.display(description=_("embed code"))
    def embed_code(self, widget: Widget) -> str:
        if not widget.pk:
            return "-"
        host = next((h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"), "HOST")
        snippet = '<script src="https://{}/static/widget/loader.js" data-widget="{}" async></script>'
        return format_html("<code>{}</code>", snippet.format(host, widget.key))


class PrechatChoiceInline(admin.TabularInline):
    model = PrechatChoice
    extra = 0
    autocomplete_fields = ["route_to"]


@admin.register(PrechatField)
class PrechatFieldAdmin(admin.ModelAdmin):
    list_display = ["label", "name", "queue", "type", "required", "order"]
    list_select_related = ["queue"]
    list_filter = ["queue", "type"]
    autocomplete_fields = ["queue"]
    inlines = [PrechatChoiceInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["seq", "author_role", "author_name", "text", "internal", "sent_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "contact", "queue", "state", "agent", "ended_by", "rating"]
    list_filter = ["state", "queue", "ended_by"]
    list_select_related = ["contact", "queue", "agent"]
    search_fields = ["messages__text"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [MessageInline]
    readonly_fields = [
        "widget", "queue", "contact", "state", "agent", "prechat", "context", "locale", "created_at",
        "assigned_at", "ended_at", "ended_by", "end_reason", "rating", "rating_comment",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OfflineMessage)
class OfflineMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "queue", "name", "email", "phone", "handled_at"]
    list_select_related = ["queue"]
    list_filter = ["queue"]
    readonly_fields = ["widget", "queue", "name", "email", "phone", "text", "created_at", "handled_by", "handled_at"]

    def has_add_permission(self, request):
        return False


class CannedResponseResource(resources.ModelResource):
    """Import/export of canned responses: owners by username, queues by name."""

    owner = fields.Field(
        attribute="owner", column_name="owner", widget=widgets.ForeignKeyWidget(get_user_model(), "username")
    )
    queue = fields.Field(attribute="queue", column_name="queue", widget=widgets.ForeignKeyWidget(Queue, "name"))

    class Meta:
        model = CannedResponse
        fields = ["id", "scope", "owner", "queue", "shortcut", "title", "text", "language"]
        clean_model_instances = True  # the model's rules (scope, owner, queue) hold for imported rows too


@admin.register(CannedResponse)
class CannedResponseAdmin(ImportExportModelAdmin):
    resource_classes = [CannedResponseResource]
    list_display = ["shortcut", "title", "scope", "queue", "owner", "language", "updated_at"]
    list_filter = ["scope", "language", "queue"]
    list_select_related = ["queue", "owner"]
    search_fields = ["shortcut", "title", "text"]
    autocomplete_fields = ["owner", "queue"]
    fieldsets = [
        (None, {"fields": ["shortcut", "title", "text", "language"]}),
        (_("Who may use it"), {"fields": ["scope", "queue", "owner"]}),
    ]
