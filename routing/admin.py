"""The configuration console for routing: queues with hours and members, skills, agents."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    AgentProfile,
    AgentSkill,
    Channel,
    Contact,
    DispositionCode,
    OpeningException,
    Queue,
    QueueAlarm,
    QueueMembership,
    QueueSkill,
    Skill,
    WeeklySlot,
    WorkItem,
)


class WeeklySlotInline(admin.TabularInline):
    model = WeeklySlot
    extra = 0


class OpeningExceptionInline(admin.TabularInline):
    model = OpeningException
    extra = 0


class QueueSkillInline(admin.TabularInline):
    model = QueueSkill
    extra = 0
    autocomplete_fields = ["skill"]


class QueueMembershipInline(admin.TabularInline):
    model = QueueMembership
    extra = 0
    autocomplete_fields = ["agent"]


class QueueForm(forms.ModelForm):
    channels = forms.TypedMultipleChoiceField(
        choices=Channel.choices, widget=forms.CheckboxSelectMultiple, label=_("channels served")
    )

    class Meta:
        model = Queue
        fields = ["channels"]  # the admin's fieldsets add the rest


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = [
        "name",
        "is_active",
        "channels",
        "assignment_mode",
        "time_zone",
        "holiday_country",
        "service_level_target_seconds",
    ]
    list_filter = ["is_active", "assignment_mode"]
    search_fields = ["name"]
    inlines = [QueueSkillInline, WeeklySlotInline, OpeningExceptionInline, QueueMembershipInline]
    autocomplete_fields = ["overflow_queue"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "channels", "assignment_mode", "offer_timeout_seconds"]}),
        (
            _("Routing"),
            {
                "fields": [
                    "priority",
                    "service_level_target_seconds",
                    "max_waiting",
                    "overflow_queue",
                    "wrap_up_seconds",
                ]
            },
        ),
        (_("Opening hours"), {"fields": ["time_zone", "holiday_country", "closed_message", "offline_form_enabled"]}),
        (
            _("Customers"),
            {
                "fields": [
                    "welcome_message",
                    "customer_grace_seconds",
                    "auto_reply_seconds",
                    "auto_reply_text",
                    "inactivity_warning_seconds",
                    "inactivity_warning_text",
                    "inactivity_close_seconds",
                ]
            },
        ),
        (_("Alarms"), {"fields": ["alarm_waiting", "alarm_oldest_wait_seconds"]}),
    ]


@admin.register(QueueAlarm)
class QueueAlarmAdmin(admin.ModelAdmin):
    """Alarms are raised and cleared by the system (routing/alarms.py); here they are history."""

    list_display = ["queue", "kind", "threshold", "value", "peak", "raised_at", "cleared_at"]
    list_filter = ["kind", ("cleared_at", admin.EmptyFieldListFilter), "queue"]
    list_select_related = ["queue"]
    date_hierarchy = "raised_at"
    readonly_fields = ["queue", "kind", "threshold", "value", "peak", "raised_at", "cleared_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DispositionCode)
class DispositionCodeAdmin(admin.ModelAdmin):
    list_display = ["name", "queue", "is_active", "order"]
    list_editable = ["order"]
    list_filter = ["is_active", "queue"]
    list_select_related = ["queue"]
    search_fields = ["name"]
    autocomplete_fields = ["queue"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 0
    autocomplete_fields = ["skill"]


class AgentQueueInline(admin.TabularInline):
    model = QueueMembership
    extra = 0
    autocomplete_fields = ["queue"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "display_name", "chat_capacity", "call_capacity", "presence", "presence_reason", "presence_since",
        "missed_offers",
    ]  # fmt: skip
    list_filter = ["presence", "presence_reason"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "display_name"]
    autocomplete_fields = ["user"]
    readonly_fields = [
        "presence", "presence_reason", "presence_since", "last_assigned_at", "missed_offers", "wrap_up_until",
    ]  # fmt: skip
    inlines = [AgentQueueInline, AgentSkillInline]
    actions = ["log_on_all_queues", "log_off_all_queues"]

    @admin.action(description=_("Log on to all their queues"))
    def log_on_all_queues(self, request, queryset):
        for agent in queryset:
            services.queue_log_on(agent=agent, logged_on=True)

    @admin.action(description=_("Log off from all their queues"))
    def log_off_all_queues(self, request, queryset):
        for agent in queryset:
            services.queue_log_on(agent=agent, logged_on=False)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "created_at"]
    search_fields = ["name", "email", "phone"]
    readonly_fields = ["visitor_id", "created_at"]


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = ["channel", "reference", "queue", "state", "agent", "enqueued_at", "assigned_at"]
    list_filter = ["state", "channel", "queue"]
    list_select_related = ["queue", "agent__user"]
    readonly_fields = [field.name for field in WorkItem._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
