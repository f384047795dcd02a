from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "clientarea.billing"
    label = "billing"
    verbose_name = "Billing"
