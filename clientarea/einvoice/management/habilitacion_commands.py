"""`clientarea einvoice numbering-import` and `clientarea einvoice habilitacion --test-set-id ID`.

Subcommands of the ``einvoice`` command (``commands/einvoice.py`` adds them with
:func:`add_parsers` and hands them to :func:`handle`). Each calls one service.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from clientarea.einvoice import habilitacion, numbering
from clientarea.einvoice.habilitacion_models import TestDocumentKind, TestSetRun

ACTIONS = ("numbering-import", "habilitacion")


def add_parsers(sub) -> None:
    sub.add_parser(
        "numbering-import",
        help="Import the numbering resolutions DIAN authorized for the software (GetNumberingRange).",
    )
    run = sub.add_parser(
        "habilitacion",
        help="Send DIAN's habilitación test set (SendTestSetAsync), follow it and print the outcome.",
    )
    run.add_argument("--test-set-id", required=True, help="DIAN's TestSetId (a GUID).")
    run.add_argument("--invoices", type=int, default=2, help="invoices to send (default 2)")
    run.add_argument("--credit-notes", type=int, default=1, help="credit notes to send (default 1)")
    run.add_argument("--debit-notes", type=int, default=1, help="debit notes to send (default 1)")
    run.add_argument(
        "--wait",
        type=int,
        default=600,
        help="seconds to follow DIAN's validation before giving up waiting (default 600)",
    )


def handle(command: BaseCommand, opts: dict) -> None:
    if opts["action"] == "numbering-import":
        return numbering_import(command)
    return run_test_set(command, opts)


def numbering_import(command: BaseCommand) -> None:
    try:
        result = numbering.import_numbering_ranges(actor=None)
    except numbering.NumberingImportError as exc:
        raise CommandError(str(exc)) from exc
    for label, rows in (  # in the language of the summary below (it printed "unchanged" there)
        (pgettext("numbering import", "new"), result.created),
        (pgettext("numbering import", "updated"), result.updated),
        (pgettext("numbering import", "unchanged"), result.unchanged),
        (pgettext("numbering import", "deactivated (test)"), result.deactivated),
    ):
        for row in rows:
            command.stdout.write(f"  {label:<18} {row}")
    command.stdout.write(command.style.SUCCESS(result.summary()))


def _print_progress(command: BaseCommand, run: TestSetRun, seen: dict[int, str]) -> None:
    for document in run.documents.all():
        state = f"{document.status}|{document.status_code}"
        if seen.get(document.pk) == state:
            continue
        seen[document.pk] = state
        line = (
            f"  {document.position:>2}. {document.get_kind_display():<12} "
            f"{document.full_number:<16} {document.get_status_display()}"
        )
        if document.zip_key:
            line += f"  ZipKey {document.zip_key}"
        if document.is_final and document.status_description:
            line += f"\n      DIAN: {document.status_description}"
        for rule in habilitacion.rule_lines(document):
            line += f"\n      {rule}"
        command.stdout.write(line)


def run_test_set(command: BaseCommand, opts: dict) -> None:
    counts = {
        TestDocumentKind.INVOICE: opts["invoices"],
        TestDocumentKind.CREDIT_NOTE: opts["credit_notes"],
        TestDocumentKind.DEBIT_NOTE: opts["debit_notes"],
    }
    try:
        run = habilitacion.start_test_set(
            test_set_id=opts["test_set_id"], counts={k: v for k, v in counts.items() if v}
        )
    except habilitacion.HabilitacionError as exc:
        raise CommandError(str(exc)) from exc
    command.stdout.write(
        _("Test set %(id)s: %(count)d document(s) to %(url)s")
        % {"id": run.test_set_id, "count": run.documents.count(), "url": run.url}
    )
    seen: dict[int, str] = {}
    deadline = time.monotonic() + max(0, opts["wait"])
    while True:
        wait = habilitacion.advance_run(run_id=run.pk)  # the worker may do some steps too
        run.refresh_from_db()
        _print_progress(command, run, seen)
        if run.is_finished or time.monotonic() >= deadline:
            break
        time.sleep(min(max(wait.total_seconds() if wait else 1.0, 0.2), 5.0))
    if not run.is_finished:
        raise CommandError(
            _(
                "DIAN has not finished validating after %(seconds)d s; the worker keeps "
                "following the run (back office → Habilitación test sets)."
            )
            % {"seconds": opts["wait"]}
        )
    # The labels in the language of DIAN's answers and the steps (LANGUAGE_CODE), not English
    # around Spanish sentences.
    command.stdout.write(
        _("Outcome: %(outcome)s. %(message)s")
        % {"outcome": run.get_status_display(), "message": habilitacion.outcome_message(run)}
    )
    command.stdout.write(_("What to do next:"))
    for step in habilitacion.next_steps(run):
        command.stdout.write(f"  - {step}")
    if run.status != "accepted":
        raise CommandError(
            _("Test set %(id)s: %(outcome)s")
            % {"id": run.test_set_id, "outcome": run.get_status_display()}
        )
