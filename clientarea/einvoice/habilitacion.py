"""DIAN's habilitación: send the required test set and follow DIAN's verdict (``dian-webservice.md`` §3).

:func:`start_test_set` writes a :class:`TestSetRun` and its documents in one transaction: each
document is numbered on the **test numbering** (an active test-environment resolution valid
today, DIAN's ``SETP`` set; numbers are taken under the resolution's row lock like invoices', so
none is used twice) and built from a snapshot with ``ProfileExecutionID`` 2. The documents have
no order and no customer account: their buyer is DIAN's *consumidor final* (document 13,
222222222222), so no staff list ever shows them as sales. After commit, a worker job sends them
(:func:`advance_run`):

- a document *to send* is signed and uploaded with ``SendTestSetAsync``; DIAN answers a ZipKey;
- a *sent* document is followed with ``GetStatusZip(ZipKey)`` until DIAN answers ``00``
  (accepted) or anything else (rejected, with its rules), waiting longer between queries;
- DIAN unavailable (timeout, 5xx): the same step is tried again later, up to ``MAX_TRIES``.

Each document is claimed with one conditional UPDATE that sets a lease, so the job, the sweep
(every minute, ``process_running_test_sets``) and ``clientarea einvoice habilitacion`` never work
on one document at once, and a job lost after commit or a worker killed mid-way is picked up by
the sweep. When every document has DIAN's final answer the run has its outcome, with what to do
next in words (:func:`next_steps`).

Credit and debit notes plug in through :data:`DOCUMENT_BUILDERS`: a builder numbers and
snapshots one document of its kind inside the start transaction and the matching uploader turns
the snapshot into signed XML.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.einvoice import habilitacion_jobs
from clientarea.einvoice.dian.transmitter import endpoint_url
from clientarea.einvoice.habilitacion_documents import (
    DOCUMENT_BUILDERS,
    HabilitacionError,
    available_kinds,
    test_resolution,
)
from clientarea.einvoice.habilitacion_models import (
    TestDocumentKind,
    TestDocumentStatus,
    TestSetDocument,
    TestSetRun,
    TestSetRunStatus,
)
from clientarea.einvoice.habilitacion_worker import advance_run, process_running_test_sets
from clientarea.einvoice.models import NumberingResolution
from clientarea.einvoice.rules import plain_words
from clientarea.lib.dates import BOGOTA

logger = logging.getLogger(__name__)

__all__ = [
    "HabilitacionError",
    "advance_run",
    "available_kinds",
    "next_steps",
    "process_running_test_sets",
    "progress",
    "rule_lines",
    "start_test_set",
]


def _check_test_set_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise HabilitacionError(
            _("“%(value)s” is not a TestSetId: DIAN gives it as a GUID (8-4-4-4-12 hex digits).")
            % {"value": value}
        ) from None


def start_test_set(
    *, test_set_id: str, counts: dict[str, int] | None = None, actor=None
) -> TestSetRun:
    """Number and record the test set's documents; the worker sends them after commit."""
    test_set_id = _check_test_set_id(test_set_id)
    if settings.EINVOICE_ENVIRONMENT == "production" and not settings.DIAN_SANDBOX:
        raise HabilitacionError(
            _(
                "EINVOICE_ENVIRONMENT is production: DIAN accepts test sets only in its "
                "habilitación environment."
            )
        )
    counts = counts or {TestDocumentKind.INVOICE: 2}
    unknown = [kind for kind, n in counts.items() if n and kind not in DOCUMENT_BUILDERS]
    if unknown:
        raise HabilitacionError(
            _("This installation cannot send these documents yet: %(kinds)s.")
            % {"kinds": ", ".join(str(TestDocumentKind(k).label) for k in unknown)}
        )
    if sum(counts.values()) < 1 or any(n < 0 or n > 50 for n in counts.values()):
        raise HabilitacionError(_("Send between 1 and 50 documents of each kind."))
    now = timezone.now()
    with transaction.atomic():
        if TestSetRun.objects.select_for_update().filter(status=TestSetRunStatus.RUNNING).exists():
            raise HabilitacionError(
                _("A test set is still in progress: wait for its outcome before starting another.")
            )
        candidate = test_resolution(now.astimezone(BOGOTA).date())
        if candidate is None:
            raise HabilitacionError(
                _(
                    "No active test numbering is valid today. Import the numbering from DIAN "
                    "(Numbering resolutions → Import from DIAN) or add DIAN's test resolution "
                    "(prefix SETP, environment Test)."
                )
            )
        resolution = NumberingResolution.objects.select_for_update().get(pk=candidate.pk)
        run = TestSetRun.objects.create(
            test_set_id=test_set_id, url=endpoint_url(), resolution=resolution, started_by=actor
        )
        position = 0
        planned_so_far: list = []
        # Invoices first: notes reference an invoice DIAN already knows (§3 step 3).
        for kind in TestDocumentKind.values:
            for _i in range(counts.get(kind, 0)):
                position += 1
                planned = DOCUMENT_BUILDERS[kind](resolution, position, now, planned_so_far)
                planned_so_far.append(planned)
                TestSetDocument.objects.create(
                    run=run,
                    position=position,
                    kind=kind,
                    full_number=planned.full_number,
                    document_key=planned.document_key,
                    document=planned.document,
                    next_try_at=now,
                )
        audit.record(
            action="einvoice.test_set_started",
            actor=actor,
            target=test_set_id,
            changes={"documents": counts, "url": run.url, "resolution": resolution.number},
        )
        transaction.on_commit(lambda: habilitacion_jobs.advance_test_set_job(run.pk))
    logger.info("habilitación test set %s started (run %s)", test_set_id, run.pk)
    return run


# -- what staff see ------------------------------------------------------------------------------


def progress(run: TestSetRun) -> dict[str, int]:
    statuses = list(run.documents.values_list("status", flat=True))
    return {
        "total": len(statuses),
        **{status: statuses.count(status) for status in TestDocumentStatus.values},
    }


#: DIAN's answer to documents sent to a test set that is already closed (accepted or rejected):
#: it validates none of them, so their "rejection" says nothing about the documents.
CLOSED_TEST_SET = re.compile(
    r"Set de prueba con identificador \S+ se encuentra (?P<state>Aceptado|Rechazado)", re.IGNORECASE
)


def closed_test_set(run: TestSetRun) -> str:
    """``"accepted"`` / ``"rejected"`` when DIAN refused the run's documents because the test set
    itself was already closed so, or ``""``."""
    for document in run.documents.all():
        found = CLOSED_TEST_SET.search(document.status_description or "")
        if found:
            return "accepted" if found["state"].lower() == "aceptado" else "rejected"
    return ""


def next_steps(run: TestSetRun) -> list[str]:
    """What to do after this outcome, in words (§3 step 7)."""
    closed = closed_test_set(run) if run.status == TestSetRunStatus.REJECTED else ""
    if closed == "accepted":
        return [
            _(
                "DIAN validated none of these documents: this test set is already accepted "
                "(“Aceptado”), so nothing needs fixing or sending again. Go on to production:"
            ),
            *_steps_after_acceptance()[1:],
        ]
    if closed == "rejected":
        return [
            _(
                "DIAN validated none of these documents: this test set is already closed as "
                "rejected (“Rechazado”) and takes no more documents. Ask DIAN's habilitación "
                "portal for a new TestSetId (restart the set) and start the test set with it."
            )
        ]
    if run.status == TestSetRunStatus.RUNNING:
        return [
            _(
                "Wait: DIAN validates each document in a few seconds; this page follows it. "
                "Nothing else is needed."
            )
        ]
    if run.status == TestSetRunStatus.ACCEPTED:
        steps = _steps_after_acceptance()
        missing = [
            str(TestDocumentKind(kind).label)
            for kind in TestDocumentKind.values
            if kind not in {d.kind for d in run.documents.all()}
        ]
        if missing:
            steps.insert(
                1,
                _(
                    "This run sent no %(kinds)s. If DIAN's portal still shows the set in process, "
                    "send them with the same TestSetId."
                )
                % {"kinds": ", ".join(missing)},
            )
        return steps
    if run.status == TestSetRunStatus.REJECTED:
        return [
            _(
                "Read each rejected document's rules below and fix the cause (certificate, "
                "EINVOICE_SOFTWARE_ID / EINVOICE_SOFTWARE_PIN, provider data, test numbering)."
            ),
            _(
                "Start the test set again with the same TestSetId while DIAN's portal shows it in "
                "process. If the portal shows it “Rechazado”, ask DIAN's portal for a new "
                "TestSetId (restart the set) and use that."
            ),
        ]
    return [
        _(
            "Check DIAN_WS_URL / EINVOICE_ENVIRONMENT, the network to DIAN and the certificate, "
            "then start the test set again with the same TestSetId."
        )
    ]


def _steps_after_acceptance() -> list[str]:
    """From an accepted test set to production (README "From the simulator to DIAN")."""
    return [
        _(
            "Check in DIAN's habilitación portal that the test set shows “Aceptado” (DIAN "
            "counts the invoices, credit notes and debit notes it requires)."
        ),
        _("Request the real numbering resolution in MUISCA (DIAN's services)."),
        _("In DIAN's portal, associate the resolution's prefix with the software."),
        _(
            "Configure production: EINVOICE_ENVIRONMENT=production, DIAN_SANDBOX=0, "
            "EINVOICE_TRANSMITTER=clientarea.einvoice.dian.transmitter.DianTransmitter "
            "(without it, once the simulator is off, invoices are only stored and never reach "
            "DIAN), DIAN_WS_URL empty, the provider's certificate in EINVOICE_CERT_PATH, the "
            "same EINVOICE_SOFTWARE_ID and EINVOICE_SOFTWARE_PIN; restart."
        ),
        _(
            "Import the production numbering: Numbering resolutions → Import from DIAN (or "
            "`clientarea einvoice numbering-import`). It brings the technical key and "
            "deactivates the test numbering."
        ),
        _(
            "Run `clientarea check --deploy`: it must be clean. Invoices are then sent with "
            "SendBillSync and ProfileExecutionID 1."
        ),
    ]


def outcome_message(run: TestSetRun) -> str:
    """The finished run's outcome in the reader's language, from its documents.

    ``run.message`` keeps the sentence the worker wrote, in the worker's language (the site's,
    es-CO), which an English page then showed in Spanish."""
    if not run.is_finished:
        return run.message
    counts = progress(run)
    total, accepted = counts["total"], counts[TestDocumentStatus.ACCEPTED]
    if run.status == TestSetRunStatus.ACCEPTED:
        return _("DIAN accepted all %(n)d documents.") % {"n": accepted}
    if run.status == TestSetRunStatus.REJECTED and closed_test_set(run):
        return _(
            "DIAN refused %(rejected)d of %(n)d documents without validating them: the test set "
            "was already closed."
        ) % {"rejected": counts[TestDocumentStatus.REJECTED], "n": total}
    if run.status == TestSetRunStatus.REJECTED:
        return _("DIAN rejected %(rejected)d of %(n)d documents; see each one's rules below.") % {
            "rejected": counts[TestDocumentStatus.REJECTED],
            "n": total,
        }
    if run.status == TestSetRunStatus.FAILED:
        return _("%(failed)d of %(n)d documents could not be sent to DIAN; see why below.") % {
            "failed": total - accepted,
            "n": total,
        }
    return run.message


def rule_lines(document: TestSetDocument) -> list[str]:
    """DIAN's rules of one document, each with our plain words when we have them (in the
    reader's language; the words stored with the answer are the worker's)."""
    lines = []
    for m in document.rule_messages or []:
        text = f"{m.get('rule', '')}: {m.get('text', '')}".strip(": ")
        words = plain_words(m.get("rule", "")) or m.get("words") or ""
        lines.append(f"{text} — {words}" if words else text)
    return lines
