"""The console's side of reports: contact records (read-only, exportable) and the import of
a former system's history."""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources
from import_export.admin import ExportMixin

from .importer import HEADER, import_history
from .models import ContactRecord, MonthlyReportSent

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class ContactRecordResource(resources.ModelResource):
    class Meta:
        model = ContactRecord
        fields = [
            "id", "source", "channel", "queue__name", "agent__username", "started_at", "answered_at", "ended_at",
            "abandoned", "offered_to_agent", "first_response_at", "agent_messages", "customer_messages", "agents",
            "transferred", "rating", "end_reason", "target_seconds",
        ]  # fmt: skip


class HistoryUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"), help_text=",".join(HEADER))
    dry_run = forms.BooleanField(label=gettext_lazy("Only check, import nothing"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB; use the import_history command."))
        return upload


@admin.register(ContactRecord)
class ContactRecordAdmin(ExportMixin, admin.ModelAdmin):
    resource_classes = [ContactRecordResource]
    list_display = ["started_at", "channel", "queue", "agent", "answered_at", "ended_at", "abandoned", "source"]
    list_filter = ["source", "channel", "abandoned", "transferred", "queue"]
    list_select_related = ["queue", "agent"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    change_list_template = "admin/reports/contactrecord/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        extra = [
            path(
                "import-history/",
                self.admin_site.admin_view(self.import_history_view),
                name="reports_contactrecord_import_history",
            )
        ]
        return extra + super().get_urls()

    def import_history_view(self, request):
        if not request.user.has_perm("reports.add_contactrecord"):
            messages.error(request, _("You may not import history."))
            return redirect(reverse("admin:reports_contactrecord_changelist"))
        form = HistoryUploadForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                text = io.TextIOWrapper(form.cleaned_data["file"].file, encoding="utf-8-sig", newline="")
                result = import_history(text, dry_run=form.cleaned_data["dry_run"])
            except UnicodeDecodeError:
                form.add_error("file", _("The file is not UTF-8 text."))
            if result is not None and result.ok and not form.cleaned_data["dry_run"]:
                messages.success(
                    request,
                    _("Imported %(created)s contacts; %(there)s were there already.")
                    % {"created": result.created, "there": result.already_there},
                )
                return redirect(reverse("admin:reports_contactrecord_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import history"),
            "form": form,
            "result": result,
            "header": ",".join(HEADER),
            "opts": self.model._meta,
        }
        return render(
            request, "admin/reports/import_history.html", context, status=400 if result and not result.ok else 200
        )


@admin.register(MonthlyReportSent)
class MonthlyReportSentAdmin(admin.ModelAdmin):
    list_display = ["month", "sent_at", "recipients"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
