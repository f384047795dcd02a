from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "clientarea.portal"
    label = "portal"
    verbose_name = _("Client area")
