from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DianSandboxConfig(AppConfig):
    name = "clientarea.einvoice.sandbox"
    label = "dian_sandbox"
    verbose_name = _("DIAN simulator")
    default_auto_field = "django.db.models.BigAutoField"
