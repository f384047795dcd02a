from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "clientarea.catalog"
    label = "catalog"
    verbose_name = "Catalog"
