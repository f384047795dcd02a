from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "clientarea.payments.sandbox"
    label = "sandbox"
    verbose_name = "Gateway simulators"
