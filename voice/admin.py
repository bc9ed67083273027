"""The configuration console for voice: each queue's call settings (recording, retention);
calls and recordings read-only (recordings are heard on the recordings page, not here)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import prompts
from .models import Call, CallEvent, IvrMenu, IvrOption, Prompt, QueueVoice, Recording


@admin.register(QueueVoice)
class QueueVoiceAdmin(admin.ModelAdmin):
    list_display = ["queue", "entry_menu", "record_calls", "recording_retention_months", "agent_sees_monitoring"]
    list_select_related = ["queue", "entry_menu"]
    list_filter = ["record_calls", "recording_retention_months"]
    autocomplete_fields = ["queue", "entry_menu", "hold_music"]
    search_fields = ["queue__name"]


class PromptForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ["name", "purpose", "number", "language", "original"]
        help_texts = {"original": _("WAV, MP3, Ogg, M4A …, at most 10 minutes; converted once for playing.")}

    def clean_original(self):
        upload = self.cleaned_data["original"]
        if upload and hasattr(upload, "content_type"):  # a new upload, not the stored file
            self.converted = prompts.convert(upload)
        return upload

    def save(self, commit=True):
        prompt = super().save(commit=False)
        converted = getattr(self, "converted", None)
        if converted is not None:
            audio, seconds = converted
            prompt.audio.save(f"{prompt.name[:40] or 'prompt'}.wav", audio, save=False)
            prompt.duration_seconds = seconds
        if commit:
            prompt.save()
        return prompt


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptForm
    list_display = ["name", "purpose", "number", "language", "duration_seconds", "created_at"]
    list_filter = ["purpose", "language"]
    search_fields = ["name"]
    readonly_fields = ["player", "duration_seconds"]

    @admin.display(description=_("listen"))
    def player(self, prompt: Prompt) -> str:
        if not prompt.pk or not prompt.audio:
            return "-"
        return format_html(
            '<audio controls preload="none" src="{}"></audio>', reverse("voice-prompt-audio", args=[prompt.pk])
        )


class IvrOptionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        if not IvrOption.MIN_PER_MENU <= len(kept) <= IvrOption.MAX_PER_MENU:
            raise ValidationError(
                _("A menu has %(min)s to %(max)s options.")
                % {"min": IvrOption.MIN_PER_MENU, "max": IvrOption.MAX_PER_MENU}
            )


class IvrOptionInline(admin.TabularInline):
    model = IvrOption
    fk_name = "menu"
    formset = IvrOptionFormSet
    extra = 0
    min_num = IvrOption.MIN_PER_MENU
    max_num = IvrOption.MAX_PER_MENU
    autocomplete_fields = ["queue", "submenu", "prompt"]
    fields = ["digit", "label", "action", "queue", "submenu", "prompt", "collect_min", "collect_max"]


@admin.register(IvrMenu)
class IvrMenuAdmin(admin.ModelAdmin):
    list_display = ["name", "hours_queue", "timeout_seconds", "max_tries", "no_choice"]
    search_fields = ["name"]
    autocomplete_fields = ["greeting", "menu_prompt", "hours_queue", "closed_prompt", "no_choice_queue"]
    inlines = [IvrOptionInline]
    fieldsets = [
        (None, {"fields": ["name", "greeting", "menu_prompt"]}),
        (_("Opening hours"), {"fields": ["hours_queue", "closed_prompt"]}),
        (
            _("When the caller chooses nothing"),
            {"fields": ["timeout_seconds", "max_tries", "no_choice", "no_choice_queue"]},
        ),
    ]


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
