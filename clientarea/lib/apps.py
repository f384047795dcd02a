from django.apps import AppConfig


class LibConfig(AppConfig):
    name = "clientarea.lib"
    label = "lib"
    verbose_name = "Library"
