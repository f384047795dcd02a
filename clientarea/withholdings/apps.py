from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WithholdingsConfig(AppConfig):
    name = "clientarea.withholdings"
    label = "withholdings"
    verbose_name = _("Withholdings")
