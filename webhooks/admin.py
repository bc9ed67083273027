"""Webhook endpoints and their deliveries in the console."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Event, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=1000, assume_scheme="https")
    events = forms.TypedMultipleChoiceField(
        choices=Event.choices, widget=forms.CheckboxSelectMultiple, label=_("events")
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "secret", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "is_active", "created_at"]
    list_filter = ["is_active"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.forget_endpoints()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "endpoint", "state", "attempts", "last_status", "last_error", "delivered_at"]
    list_filter = ["state", "event", "endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    show_full_result_count = False
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again now"))
    def retry_now(self, request, queryset):
        from django.utils import timezone

        queryset.exclude(state=WebhookDelivery.State.DELIVERED).update(
            state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now()
        )
