from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from routing import handlers

        from . import access
        from .routing_handlers import ChatWorkItemHandler

        handlers.register("chat", ChatWorkItemHandler())
        access.connect_receivers()
