from django.apps import AppConfig


class EinvoiceConfig(AppConfig):
    name = "clientarea.einvoice"
    label = "einvoice"
    verbose_name = "Electronic invoices"
