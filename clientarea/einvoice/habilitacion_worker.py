"""The worker side of a habilitación run: upload with ``SendTestSetAsync``, follow with ``GetStatusZip``.

:func:`advance_run` does every step that is due: a document *to send* is signed and uploaded
(DIAN answers a ZipKey); a *sent* one is asked ``GetStatusZip(ZipKey)`` until DIAN answers ``00``
(accepted) or anything else (rejected, with its rules), waiting longer between queries. DIAN
unavailable (timeout, 5xx): the same step again later, up to ``MAX_TRIES``. Each document is
claimed with one conditional UPDATE that sets a lease, so the after-commit job, the sweep
(every minute) and the command never work on one document at once, and a lost job or a killed
worker is picked up by the sweep. When every document has DIAN's final answer, the run gets its
outcome.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.einvoice.dian import files
from clientarea.einvoice.dian.client import DianClient, DianError, Exchange
from clientarea.einvoice.dian.responses import DianResponse
from clientarea.einvoice.dian.transmitter import client_from_settings
from clientarea.einvoice.habilitacion_documents import DOCUMENT_SIGNERS
from clientarea.einvoice.habilitacion_models import (
    TestDocumentKind,
    TestDocumentStatus,
    TestSetDocument,
    TestSetRun,
    TestSetRunStatus,
)
from clientarea.einvoice.rules import plain_words

logger = logging.getLogger(__name__)

#: First GetStatusZip this long after the upload, then ``POLL_BACKOFF`` times longer each time.
POLL_DELAY = dt.timedelta(seconds=1)
POLL_BACKOFF = 1.5
POLL_MAX_DELAY = dt.timedelta(seconds=30)
#: A document DIAN has not finished validating after this long is given up (DIAN takes seconds).
POLL_GIVE_UP = dt.timedelta(hours=2)
#: DIAN unavailable: the same step again this much later, up to ``MAX_TRIES`` tries in a row.
RETRY_DELAY = dt.timedelta(seconds=20)
MAX_TRIES = 5
LEASE = dt.timedelta(minutes=2)


def _claim(document_id: int, now: dt.datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    return (
        TestSetDocument.objects.filter(
            free,
            pk=document_id,
            next_try_at__lte=now,
            status__in=(TestDocumentStatus.TO_SEND, TestDocumentStatus.SENT),
        ).update(lease_until=now + LEASE)
        == 1
    )


def _save(document: TestSetDocument, exchange: Exchange | None, **fields) -> None:
    if exchange is not None:  # the upload request (the document as sent) and DIAN's last answer
        fields["response"] = exchange.response
        if exchange.operation != "GetStatusZip":
            fields["request"] = exchange.request
    TestSetDocument.objects.filter(pk=document.pk).update(lease_until=None, **fields)


def _retry(document: TestSetDocument, error: DianError, now: dt.datetime) -> None:
    tries = document.tries + 1
    if error.retryable and tries < MAX_TRIES:
        _save(document, error.exchange, tries=tries, next_try_at=now + RETRY_DELAY)
        logger.warning("test set document %s: %s; tried again later", document.full_number, error)
        return
    _save(
        document,
        error.exchange,
        tries=tries,
        status=TestDocumentStatus.FAILED,
        status_description=_("DIAN did not take the document: %(error)s") % {"error": error},
        answered_at=now,
    )


def _upload(client: DianClient, document: TestSetDocument, run: TestSetRun) -> None:
    now = timezone.now()
    try:
        signed, kind, sequence = DOCUMENT_SIGNERS[document.kind](document.document)
    except Exception as exc:  # a build or signing failure is recorded, never retried blindly
        logger.exception("test set document %s could not be signed", document.full_number)
        _save(
            document,
            None,
            status=TestDocumentStatus.FAILED,
            status_description=_("The document could not be built or signed: %(error)s")
            % {"error": f"{type(exc).__name__}: {exc}"},
            answered_at=now,
        )
        return
    supplier = document.document["supplier"]["document_number"]
    package = files.package(
        signed, kind, supplier_nit=supplier, year=now.year, sequence=sequence % 0xFFFFFFFF or 1
    )
    try:
        reply = client.send_test_set_async(
            file_name=package.file_name, content=package.content, test_set_id=run.test_set_id
        )
    except DianError as exc:
        _retry(document, exc, now)
        return
    upload = reply.result
    if not upload.received:
        refusal = "; ".join(e.processed_message for e in upload.errors) or _("no ZipKey given")
        _save(
            document,
            reply.exchange,
            tries=document.tries + 1,
            status=TestDocumentStatus.REJECTED,
            status_description=refusal,
            answered_at=now,
        )
        return
    _save(
        document,
        reply.exchange,
        tries=document.tries + 1,
        zip_key=upload.zip_key,
        status=TestDocumentStatus.SENT,
        sent_at=now,
        polls=0,
        next_try_at=now + POLL_DELAY,
    )


def _rules(response: DianResponse) -> list[dict[str, str]]:
    return [
        {"rule": m.rule, "kind": str(m.kind), "text": m.text, "words": str(plain_words(m.rule))}
        for m in response.messages
    ]


def _poll(client: DianClient, document: TestSetDocument) -> None:
    now = timezone.now()
    try:
        reply = client.get_status_zip(track_id=document.zip_key)
    except DianError as exc:
        _retry(document, exc, now)
        return
    answers = [a for a in reply.result if not a.pending]
    if not answers or len(answers) < len(reply.result):
        polls = document.polls + 1
        if document.sent_at and now - document.sent_at > POLL_GIVE_UP:
            _save(
                document,
                reply.exchange,
                polls=polls,
                status=TestDocumentStatus.FAILED,
                status_description=_("DIAN did not finish validating it in %(hours)d hours.")
                % {"hours": POLL_GIVE_UP.total_seconds() // 3600},
                answered_at=now,
            )
            return
        wait = min(POLL_DELAY * (POLL_BACKOFF**polls), POLL_MAX_DELAY)
        _save(document, reply.exchange, polls=polls, tries=0, next_try_at=now + wait)
        return
    answer = answers[0]  # one XML per upload
    description = " ".join(  # DIAN often repeats its description as the message: once
        dict.fromkeys(part for part in (answer.status_description, answer.status_message) if part)
    )
    _save(
        document,
        reply.exchange,
        polls=document.polls + 1,
        status=TestDocumentStatus.ACCEPTED if answer.accepted else TestDocumentStatus.REJECTED,
        status_code=answer.status_code,
        status_description=description,
        rule_messages=_rules(answer),
        answered_at=now,
    )


def _conclude(run_id: int) -> TestSetRun:
    """Give the run its outcome once every document has DIAN's final answer."""
    with transaction.atomic():
        run = TestSetRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        statuses = list(run.documents.values_list("status", flat=True))
        if any(s in (TestDocumentStatus.TO_SEND, TestDocumentStatus.SENT) for s in statuses):
            return run
        accepted = statuses.count(TestDocumentStatus.ACCEPTED)
        rejected = statuses.count(TestDocumentStatus.REJECTED)
        if accepted == len(statuses):
            run.status = TestSetRunStatus.ACCEPTED
            run.message = _("DIAN accepted all %(n)d documents.") % {"n": accepted}
        elif rejected:
            run.status = TestSetRunStatus.REJECTED
            run.message = _(
                "DIAN rejected %(rejected)d of %(n)d documents; see each one's rules below."
            ) % {"rejected": rejected, "n": len(statuses)}
        else:
            run.status = TestSetRunStatus.FAILED
            run.message = _(
                "%(failed)d of %(n)d documents could not be sent to DIAN; see why below."
            ) % {"failed": len(statuses) - accepted, "n": len(statuses)}
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "message", "finished_at"])
        audit.record(
            action="einvoice.test_set_finished",
            actor=run.started_by,
            target=run.test_set_id,
            changes={"outcome": run.status, "accepted": accepted, "documents": len(statuses)},
        )
    logger.info("habilitación test set %s: %s", run.test_set_id, run.status)
    return run


def advance_run(*, run_id: int, client: DianClient | None = None) -> dt.timedelta | None:
    """Do every step that is due now; returns how long until the next one (None: finished)."""
    run = TestSetRun.objects.get(pk=run_id)
    if run.is_finished:
        return None
    now = timezone.now()
    due = list(
        run.documents.filter(
            status__in=(TestDocumentStatus.TO_SEND, TestDocumentStatus.SENT), next_try_at__lte=now
        ).order_by("position")
    )
    dian = (client or client_from_settings()) if due else None
    for document in due:
        if document.kind != TestDocumentKind.INVOICE and document.status == (
            TestDocumentStatus.TO_SEND
        ):
            # A note names the run's first invoice: sent before DIAN has that invoice (DIAN was
            # unavailable for it), DIAN refuses it (CBG01/DBG01). It waits for the invoices
            # (they come first, so in a pass where they went up it goes up after them).
            waiting = (
                run.documents.filter(
                    kind=TestDocumentKind.INVOICE, status=TestDocumentStatus.TO_SEND
                )
                .order_by("next_try_at")
                .values_list("next_try_at", flat=True)
                .first()
            )
            if waiting is not None:
                TestSetDocument.objects.filter(pk=document.pk, lease_until__isnull=True).update(
                    next_try_at=max(waiting, now)
                )
                continue
        if dian is None or not _claim(document.pk, now):
            continue
        if document.status == TestDocumentStatus.TO_SEND:
            _upload(dian, document, run)
        else:
            _poll(dian, document)
    run = _conclude(run_id)
    if run.is_finished:
        return None
    upcoming = (
        run.documents.filter(status__in=(TestDocumentStatus.TO_SEND, TestDocumentStatus.SENT))
        .order_by("next_try_at")
        .values_list("next_try_at", flat=True)
        .first()
    )
    if upcoming is None:
        return None
    return max(upcoming - timezone.now(), dt.timedelta(0))


def process_running_test_sets() -> dict[str, int]:
    """The sweep: advance every run in progress (lost jobs, dead workers, polls due)."""
    counts = {"runs": 0, "finished": 0}
    for run_id in TestSetRun.objects.filter(status=TestSetRunStatus.RUNNING).values_list(
        "pk", flat=True
    ):
        counts["runs"] += 1
        try:
            if advance_run(run_id=run_id) is None:
                counts["finished"] += 1
        except Exception:  # one broken run never stops the sweep; it is retried next minute
            logger.exception("habilitación run %s could not be advanced", run_id)
    return counts
