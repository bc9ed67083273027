from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from chat import signals

        from . import services

        # Our own rows only; written in the chat's transaction, so the two commit together.
        signals.conversation_ended.connect(services.contact_record_due, dispatch_uid="reports.ended")
        signals.conversation_rated.connect(services.contact_record_due, dispatch_uid="reports.rated")
