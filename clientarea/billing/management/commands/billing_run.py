"""`clientarea billing-run`: the daily billing run (renewals, reminders, suspensions, terminations).

Exit status: 0 done, 1 done but some customers failed (listed, and kept in the
back office under Billing runs), 2 bad arguments (e.g. an invalid --date).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from clientarea.billing import automation
from clientarea.billing.models import BillingRunStatus


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(
            f"invalid date {value!r}: use YYYY-MM-DD, e.g. 2025-03-31"
        ) from None


class ProgressBar:
    """One line on stderr, redrawn after each batch: ``[#####-----]  50%  5,000/10,000  1,234/s``.

    The unit is customers: the customers of the run's chunks that are done (any process's).
    """

    width = 30

    def __init__(self, stream):
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(self.width * share)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.stream.write(
            f"\r[{'#' * filled}{'-' * (self.width - filled)}] {share:4.0%}  {done:,}/{total:,}  {rate:,.0f}/s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Bill renewals due within BILLING_RENEWAL_DAYS_BEFORE days (one order per customer), send reminders "
        "and overdue notices, suspend services overdue BILLING_SUSPEND_AFTER_DAYS days, terminate those overdue "
        "BILLING_TERMINATE_AFTER_DAYS days and cancel new-service orders unpaid after "
        "BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS days. Safe to run again on the same day."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", type=iso_date, help="billing date, YYYY-MM-DD (default: today in Colombia)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="compute and print the counts, change nothing"
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            default=None,
            help="show a progress bar on stderr (default: only when stderr is a terminal)",
        )
        parser.add_argument("--no-progress", action="store_false", dest="progress")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=automation.BATCH_SIZE,
            help="customers per batch (default %(default)s)",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=automation.run_chunks.CHUNK_SIZE,
            help="customers per chunk, the unit a worker claims (default %(default)s)",
        )

    def handle(
        self,
        *args,
        date=None,
        dry_run=False,
        progress=None,
        batch_size=automation.BATCH_SIZE,
        chunk_size=automation.run_chunks.CHUNK_SIZE,
        **options,
    ):
        if batch_size < 1 or chunk_size < 1:
            raise CommandError("--batch-size and --chunk-size must be at least 1", returncode=2)
        show = progress if progress is not None else sys.stderr.isatty()
        bar = ProgressBar(sys.stderr) if show else None
        started = time.monotonic()
        try:
            run = automation.run_billing(
                run_date=date,
                dry_run=dry_run,
                triggered_by="cli",
                progress=bar,
                batch_size=batch_size,
                chunk_size=chunk_size,
            )
        finally:
            if bar:
                bar.close()
        elapsed = time.monotonic() - started
        title = _("Billing run %(date)s") % {"date": run.run_date.isoformat()}
        if dry_run:
            title += " " + _("(dry run: nothing was changed)")
        self.stdout.write(
            f"{title} - #{run.pk}, {elapsed:.1f} s, {run.get_status_display().lower()}"
        )
        rows = automation.summary_rows(run.counts)
        width = max(len(label) for label, _count in rows)
        action, count_title = (
            _("Action"),
            _("Count"),
        )  # not inside the f-string: makemessages must see them
        self.stdout.write(f"{action.ljust(width)}  {count_title:>9}")
        self.stdout.write(f"{'-' * width}  {'-' * 9}")
        for label, count in rows:
            self.stdout.write(f"{label.ljust(width)}  {count:>9,}")
        if run.errors:
            self.stdout.write("\n" + _("Errors (customer, action, message):"))
            for error in run.errors:
                self.stdout.write(
                    f"  {error['customer'] or '-'}  {error['action']}  {error['message']}"
                )
        if run.status == BillingRunStatus.DONE_WITH_ERRORS:
            raise CommandError(
                _(
                    "%(count)d error(s): see the list above, or billing run #%(id)d in the back office."
                )
                % {"count": run.counts.get("errors", 0), "id": run.pk}
            )
