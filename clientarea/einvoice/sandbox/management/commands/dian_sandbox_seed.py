"""Seed the DIAN simulator with DIAN's published test values (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from clientarea.einvoice.sandbox import services


class Command(BaseCommand):
    help = "Load DIAN's test numbering range, the demo software and a test set into the DIAN simulator."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--software-id", default=services.DEMO_SOFTWARE_ID)
        parser.add_argument("--pin", default=services.DEMO_SOFTWARE_PIN)
        parser.add_argument("--provider-nit", default=services.DEMO_PROVIDER_NIT)
        parser.add_argument("--test-set-id", default=services.DEMO_TEST_SET_ID)

    def handle(self, *args, **options) -> None:
        created = services.seed(
            software_id=options["software_id"], pin=options["pin"],
            provider_nit=options["provider_nit"], test_set_id=options["test_set_id"],
        )  # fmt: skip
        for line in created:
            self.stdout.write(f"  {line}")
        if not created:
            self.stdout.write(_("The DIAN simulator already had its test data."))
