"""`clientarea demo-data`: load the demo (Conexcol) once; running it again changes nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from clientarea.accounts import demo as accounts_demo
from clientarea.billing import demo as billing_demo
from clientarea.catalog import demo as catalog_demo
from clientarea.einvoice import demo as einvoice_demo
from clientarea.helpcenter import demo as helpcenter_demo
from clientarea.payments import demo as payments_demo
from clientarea.subscriptions import demo as subscriptions_demo
from clientarea.withholdings import demo as withholdings_demo

# Each has `load(stdout) -> None`, idempotent. Order matters (customers before orders).
DEMO_LOADERS = (
    accounts_demo,
    catalog_demo,
    subscriptions_demo,
    einvoice_demo,  # the numbering resolution must exist before demo orders are paid
    withholdings_demo,  # Tienda Andina withholds: before its orders are paid
    billing_demo,
    payments_demo,  # Tienda Andina's SSL order paid by transfer, as staff register it
    helpcenter_demo,
)


class Command(BaseCommand):
    help = "Load the demo data (provider, customers, catalog, services, orders, help articles). Idempotent."

    def handle(self, *args, **options):
        for module in DEMO_LOADERS:
            with transaction.atomic():
                module.load(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
