"""`clientarea demo-data`: load the demo (Conexcol) once; running it again changes nothing."""

from __future__ import annotations

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

# Each module has `load(stdout) -> None`, idempotent. Order matters (customers before orders).
DEMO_LOADERS = (
    "clientarea.accounts.demo",
    "clientarea.catalog.demo",
    "clientarea.subscriptions.demo",
    "clientarea.einvoice.demo",  # the numbering resolution must exist before demo orders are paid
    "clientarea.billing.demo",
    "clientarea.helpcenter.demo",
)


class Command(BaseCommand):
    help = "Load the demo data (provider, customers, catalog, services, orders, help articles). Idempotent."

    def handle(self, *args, **options):
        for path in DEMO_LOADERS:
            try:
                module = import_module(path)
            except ModuleNotFoundError as exc:
                if exc.name == path:
                    continue
                raise
            with transaction.atomic():
                module.load(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
