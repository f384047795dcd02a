"""`clientarea reconcile-payments`: ask the gateways about open payments and apply what they say."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from clientarea.payments import services


class Command(BaseCommand):
    help = (
        "Query PayU and Payvalida about payments still created or pending after "
        "PAYMENTS_RECONCILE_AFTER_MINUTES (default 7), apply each answer exactly as a "
        "notification would be applied, and close expired cash vouchers. The worker runs "
        "this every 10 minutes; running it by hand is safe at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="MINUTES",
            help=f"only payments created at least this long ago (default {settings.PAYMENTS_RECONCILE_AFTER_MINUTES})",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=500,
            help="at most this many payments per run (default 500)",
        )
        parser.add_argument(
            "--verbose-outcomes",
            action="store_true",
            help="print the outcome of every statement applied",
        )

    def handle(self, *args, **options):
        summary = services.reconcile_payments(
            older_than_minutes=options["older_than"], limit=options["limit"]
        )
        if options["verbose_outcomes"]:
            for line in summary.outcomes:
                self.stdout.write(f"  {line}")
        counts = summary.as_dict()
        self.stdout.write(
            "Payments checked: {checked} · paid: {paid} · status changed: {changed} · unchanged: {unchanged} · "
            "expired closed: {expired} (cancelled at gateway: {cancelled_at_gateway}) · gateway unavailable: {unavailable} · "
            "errors: {errors}".format(**counts)
        )
        if summary.errors or summary.unavailable:
            self.stdout.write(
                self.style.WARNING("Some payments could not be checked; the next run retries them.")
            )
        else:
            self.stdout.write(self.style.SUCCESS("Reconciliation done."))
