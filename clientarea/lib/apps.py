from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LibConfig(AppConfig):
    name = "clientarea.lib"
    label = "lib"
    # The back office lists its one model (periodic job runs) under this name.
    verbose_name = _("Scheduled jobs")
