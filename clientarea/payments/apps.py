from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "clientarea.payments"
    label = "payments"
    verbose_name = "Payments"
