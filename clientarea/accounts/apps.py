from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "clientarea.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from clientarea.accounts.selectors import email_context
        from clientarea.notifications.services import add_context_source

        add_context_source(email_context)
