from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "clientarea.subscriptions"
    label = "subscriptions"
    verbose_name = "Customer services"
