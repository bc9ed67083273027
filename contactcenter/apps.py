from django.apps import AppConfig
from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class ContactCenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = _("Contact center")

    def ready(self) -> None:
        admin.site.site_header = _("Contact center configuration console")
        admin.site.site_title = _("Configuration console")
        admin.site.index_title = _("Configuration")
