from django.apps import AppConfig


class HelpcenterConfig(AppConfig):
    name = "clientarea.helpcenter"
    label = "helpcenter"
    verbose_name = "Help center"
