"""django-axes (the login lockout) under a translatable name in the back office.

Django's documented way to rename a third-party app: subclass its AppConfig and put this
class's path in INSTALLED_APPS instead of "axes". Kept out of apps.py so that Django still
picks AccountsConfig automatically there.
"""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    verbose_name = _("Login lockout")
