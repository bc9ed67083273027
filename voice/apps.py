from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = _("Voice")

    def ready(self) -> None:
        from routing import handlers

        from . import checks  # noqa: F401 - registers the checks
        from .routing_handlers import VoiceWorkItemHandler

        handlers.register("voice", VoiceWorkItemHandler())
