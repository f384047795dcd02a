from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "clientarea.api"
    label = "api"
    verbose_name = "API"
