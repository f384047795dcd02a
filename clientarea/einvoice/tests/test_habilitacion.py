"""Habilitación: the test set through SendTestSetAsync and GetStatusZip, against the local DIAN
simulator over real HTTP, by the service, the worker's job and sweep, the back office and
``clientarea einvoice habilitacion``."""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import io
import urllib.parse
import urllib.request
import zipfile

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from lxml import etree

from clientarea.accounts.models import AuditEvent
from clientarea.billing.models import Order
from clientarea.einvoice import habilitacion, habilitacion_worker
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.dian import transport
from clientarea.einvoice.habilitacion_models import (
    TestDocumentKind,
    TestDocumentStatus,
    TestSetDocument,
    TestSetRun,
    TestSetRunStatus,
)
from clientarea.einvoice.models import Environment, Invoice, NumberingResolution
from clientarea.einvoice.rules import plain_words
from clientarea.test import make_provider, make_staff

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
TEST_SET = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"  # the simulator's demo test set
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"


@pytest.fixture(autouse=True)
def _close_kept_connections():
    """The live server's request thread holds a database connection while ours is kept open."""
    yield
    transport.close_connections()


@pytest.fixture
def dian(live_server, settings) -> str:
    """The product pointed at the simulator by configuration only, with DIAN's test numbering."""
    call_command("dian_sandbox_seed")
    make_provider()
    settings.DIAN_WS_URL = live_server.url + settings.DIAN_SANDBOX_PATH
    settings.DIAN_WS_TIMEOUT = 10
    NumberingResolution.objects.create(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000100, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=DIAN_TEST_TECHNICAL_KEY, environment=Environment.TEST,
    )  # fmt: skip
    return live_server.url


def arm(base_url: str, kind: str, **values: str) -> None:
    data = urllib.parse.urlencode({"kind": kind, **values}).encode()
    request = urllib.request.Request(base_url + "/sandbox/dian/faults", data=data)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


@pytest.fixture
def jobs(monkeypatch) -> list[int]:
    """Records the after-commit jobs instead of running them (as if the worker never got them)."""
    queued: list[int] = []
    monkeypatch.setattr(habilitacion.habilitacion_jobs, "advance_test_set_job", queued.append)
    return queued


def drive(run: TestSetRun, *, rounds: int = 40) -> TestSetRun:
    """What the worker does: advance the run as steps fall due (without waiting for the delays)."""
    for _ in range(rounds):
        if habilitacion.advance_run(run_id=run.pk) is None:
            break
        TestSetDocument.objects.filter(run=run).update(next_try_at=timezone.now())
    run.refresh_from_db()
    return run


def test_the_test_set_is_sent_followed_and_accepted(dian, jobs):
    run = habilitacion.start_test_set(test_set_id=TEST_SET)
    assert jobs == [run.pk]  # the worker job, after commit
    documents = list(run.documents.all())
    assert [d.full_number for d in documents] == ["SETP990000100", "SETP990000101"]
    assert NumberingResolution.objects.get().next_number == 990000102
    run = drive(run)
    assert run.status == TestSetRunStatus.ACCEPTED, list(run.documents.values())
    for document in run.documents.all():
        assert document.status == TestDocumentStatus.ACCEPTED and document.zip_key
        assert document.status_code == "00"
        sent = _xml_sent(bytes(document.request))
        assert sent.findtext(f"{{{CBC}}}ProfileExecutionID") == "2"
        assert sent.findtext(f"{{{CBC}}}UUID") == document.document_key
    # No order, customer invoice or real number is involved.
    assert not Invoice.objects.exists() and not Order.objects.exists()
    assert AuditEvent.objects.filter(action="einvoice.test_set_finished").exists()
    steps = " ".join(habilitacion.next_steps(run))
    assert "MUISCA" in steps and "EINVOICE_ENVIRONMENT=production" in steps
    # DIAN_SANDBOX=0 alone would switch to the store-only transmitter: the step names DIAN's
    assert "EINVOICE_TRANSMITTER=clientarea.einvoice.dian.transmitter.DianTransmitter" in steps


def _xml_sent(request: bytes) -> etree._Element:
    """The invoice inside the SendTestSetAsync request (base64 ZIP in contentFile)."""
    envelope = etree.fromstring(request)
    content = envelope.findtext(".//{http://wcf.dian.colombia}contentFile")
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(content)))
    (name,) = archive.namelist()
    return etree.fromstring(archive.read(name))


def test_the_after_commit_job_does_the_work(dian):
    run = habilitacion.start_test_set(test_set_id=TEST_SET)  # autocommit: the job runs at once
    run.refresh_from_db()
    # The job uploaded both documents at once; the polls follow as they fall due.
    assert all(d.zip_key for d in run.documents.all())
    assert drive(run).status == TestSetRunStatus.ACCEPTED


def test_a_lost_job_is_picked_up_by_the_sweep(dian, jobs):
    run = habilitacion.start_test_set(test_set_id=TEST_SET)  # the job never runs
    assert not run.documents.exclude(zip_key="").exists()
    for _ in range(20):
        counts = habilitacion.process_running_test_sets()
        TestSetDocument.objects.filter(run=run).update(next_try_at=timezone.now())
        if counts["finished"]:
            break
    run.refresh_from_db()
    assert run.status == TestSetRunStatus.ACCEPTED


#: A test set of 2 invoices, then a credit and a debit note referencing the first invoice.
SMALL_SET: dict[str, int] = {
    TestDocumentKind.INVOICE: 2,
    TestDocumentKind.CREDIT_NOTE: 1,
    TestDocumentKind.DEBIT_NOTE: 1,
}


def test_a_test_set_already_accepted_says_so_instead_of_fix_the_cause(dian, jobs):
    """DIAN refuses documents sent to a set it already accepted ("... se encuentra Aceptado"):
    the run is rejected, but there is nothing to fix; the next steps lead on to production."""
    first = drive(habilitacion.start_test_set(test_set_id=TEST_SET, counts=SMALL_SET))
    assert first.status == TestSetRunStatus.ACCEPTED
    again = drive(habilitacion.start_test_set(test_set_id=TEST_SET, counts=SMALL_SET))
    assert again.status == TestSetRunStatus.REJECTED
    assert all(
        "se encuentra Aceptado" in document.status_description for document in again.documents.all()
    )
    assert habilitacion.closed_test_set(again) == "accepted"
    for document in again.documents.all():  # DIAN's description and message, said once
        assert document.status_description.count("se encuentra Aceptado") == 1
    with translation.override("en"):
        assert habilitacion.outcome_message(again) == (
            "DIAN refused 4 of 4 documents without validating them: the test set was already "
            "closed."
        )
    with translation.override("en"):
        steps = habilitacion.next_steps(again)
    assert steps[0].startswith("DIAN validated none of these documents: this test set is already")
    text = " ".join(steps)
    assert "MUISCA" in text and "EINVOICE_ENVIRONMENT=production" in text
    assert "fix the cause" not in text
    with translation.override("es"):
        assert "ya está aceptado" in habilitacion.next_steps(again)[0]


def test_a_rejection_shows_dians_rules_in_words(dian, jobs):
    arm(dian, "reject_next", rule_code="FAB27b", rule_text="Código de seguridad no válido.")
    run = drive(habilitacion.start_test_set(test_set_id=TEST_SET))
    assert run.status == TestSetRunStatus.REJECTED
    rejected = run.documents.get(status=TestDocumentStatus.REJECTED)
    assert rejected.status_code == "99"
    (line,) = habilitacion.rule_lines(rejected)
    assert line.startswith("FAB27b: Código de seguridad no válido.")
    assert "EINVOICE_SOFTWARE_PIN" in line  # our plain words: what to check
    assert "TestSetId" in " ".join(habilitacion.next_steps(run))


def test_the_outcome_and_the_rules_words_are_in_the_readers_language(dian, jobs):
    """The worker runs in the site's language (es-CO) and stored its sentences so: an English
    reader got "La DIAN rechazó 1 de 2 documentos" and Spanish explanations."""
    arm(dian, "reject_next", rule_code="FAB27b", rule_text="Código de seguridad no válido.")
    with translation.override("es"):
        run = drive(habilitacion.start_test_set(test_set_id=TEST_SET))
    assert run.message.startswith("La DIAN rechazó 1 de 2 documentos")
    rejected = run.documents.get(status=TestDocumentStatus.REJECTED)
    with translation.override("en"):
        assert habilitacion.outcome_message(run) == (
            "DIAN rejected 1 of 2 documents; see each one's rules below."
        )
        (line,) = habilitacion.rule_lines(rejected)
        assert "EINVOICE_SOFTWARE_PIN" in line and "Revise" not in line
        english = plain_words("FAB27b")
        assert line.endswith(english) and english != rejected.rule_messages[0]["words"]
        client = Client()
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        client.force_login(make_staff())
        page = client.get(
            reverse("admin:einvoice_testsetrun_change", args=[run.pk])
        ).content.decode()
    assert "DIAN rejected 1 of 2 documents" in page and "La DIAN rechazó" not in page
    with translation.override("es"):
        assert habilitacion.outcome_message(run).startswith("La DIAN rechazó 1 de 2")


def test_notifications_are_kept_with_an_accepted_document(dian, jobs):
    arm(dian, "notify_next", rule_code="FAJ44b", rule_text="Nombre informado no corresponde.")
    run = drive(habilitacion.start_test_set(test_set_id=TEST_SET))
    assert run.status == TestSetRunStatus.ACCEPTED
    notified = [d for d in run.documents.all() if d.rule_messages]
    assert len(notified) == 1
    (message,) = notified[0].rule_messages
    assert message["rule"] == "FAJ44b" and message["kind"] == "notification"


def test_in_process_answers_are_polled_again(dian, jobs):
    arm(dian, "in_process", times="3")
    run = drive(habilitacion.start_test_set(test_set_id=TEST_SET))
    assert run.status == TestSetRunStatus.ACCEPTED
    assert sum(d.polls for d in run.documents.all()) >= 2 + 3


def test_dian_down_is_retried_then_recovers(dian, jobs):
    arm(dian, "http_503", times="1")
    run = habilitacion.start_test_set(test_set_id=TEST_SET)
    habilitacion.advance_run(run_id=run.pk)
    first = run.documents.order_by("position").first()
    assert first is not None
    assert first.status == TestDocumentStatus.TO_SEND and first.tries == 1
    assert first.next_try_at > timezone.now() + dt.timedelta(seconds=10)  # later, not at once
    assert drive(run).status == TestSetRunStatus.ACCEPTED


def test_dian_always_down_fails_the_run_with_what_to_check(dian, jobs, monkeypatch):
    monkeypatch.setattr(habilitacion_worker, "MAX_TRIES", 2)
    arm(dian, "http_500", times="0")  # until cleared
    run = drive(habilitacion.start_test_set(test_set_id=TEST_SET))
    assert run.status == TestSetRunStatus.FAILED
    assert all(d.status == TestDocumentStatus.FAILED for d in run.documents.all())
    assert "DIAN_WS_URL" in " ".join(habilitacion.next_steps(run))


def test_an_unknown_test_set_is_refused_with_dians_words(dian, jobs):
    run = drive(habilitacion.start_test_set(test_set_id="11111111-2222-3333-4444-555555555555"))
    assert run.status == TestSetRunStatus.REJECTED
    assert all("no existe" in d.status_description for d in run.documents.all())


def test_bad_input_is_refused_before_anything_is_written(dian):
    with pytest.raises(habilitacion.HabilitacionError, match="GUID"):
        habilitacion.start_test_set(test_set_id="not-a-guid")
    NumberingResolution.objects.update(active=False)
    with translation.override("en"), pytest.raises(habilitacion.HabilitacionError, match="SETP"):
        habilitacion.start_test_set(test_set_id=TEST_SET)
    assert not TestSetRun.objects.exists()
    assert NumberingResolution.objects.get().next_number == 990000100


def test_one_run_at_a_time(dian, jobs):
    habilitacion.start_test_set(test_set_id=TEST_SET)
    english = translation.override("en")
    with english, pytest.raises(habilitacion.HabilitacionError, match="still in progress"):
        habilitacion.start_test_set(test_set_id=TEST_SET)


def test_the_back_office_starts_and_shows_the_run(dian, jobs):
    staff = make_staff()
    browser = Client()
    browser.force_login(staff)
    changelist = browser.get(reverse("admin:einvoice_testsetrun_changelist"))
    assert reverse("admin:einvoice_testsetrun_start") in changelist.text
    start = reverse("admin:einvoice_testsetrun_start")
    form = browser.get(start)
    assert form.status_code == 200 and 'name="test_set_id"' in form.text
    bad = browser.post(start, {"test_set_id": "nope", "invoices": "2"})
    assert bad.status_code == 200 and "GUID" in bad.text and not TestSetRun.objects.exists()
    answer = browser.post(start, {"test_set_id": TEST_SET, "invoices": "2"})
    run = TestSetRun.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"/{run.pk}/change/")
    assert run.started_by == staff
    page = browser.get(answer["Location"])
    assert page.status_code == 200
    assert "data-auto-refresh-url" in page.text and "SETP990000100" in page.text
    run = drive(run)
    page = browser.get(answer["Location"])
    assert "data-auto-refresh-url" not in page.text
    assert "MUISCA" in page.text and run.documents.all()[0].zip_key in page.text


def test_the_command_prints_progress_and_the_outcome(dian):
    out = io.StringIO()
    call_command("einvoice", "habilitacion", "--test-set-id", TEST_SET, "--wait", "60", stdout=out)
    text = out.getvalue()
    assert "SETP990000100" in text and "ZipKey" in text
    # In the site's language (es-CO), labels included: no "Outcome:" / "Next:" around Spanish
    assert "Set de pruebas " in text and "documento(s) a http" in text
    assert "Resultado: Todos los documentos aceptados." in text and "Qué hacer ahora:" in text
    assert "Outcome:" not in text and "Next:" not in text and "document(s)" not in text
    assert TestSetRun.objects.get().status == TestSetRunStatus.ACCEPTED


def test_the_command_speaks_english_when_asked(dian):
    out = io.StringIO()
    with translation.override("en"):
        call_command(
            "einvoice", "habilitacion", "--test-set-id", TEST_SET, "--wait", "60", stdout=out
        )
    text = out.getvalue()
    assert "Outcome: All documents accepted." in text and "What to do next:" in text


def test_the_command_exits_non_zero_on_rejection(dian):
    arm(dian, "reject_next")
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"Rechazad|Rejected"):
        call_command(
            "einvoice", "habilitacion", "--test-set-id", TEST_SET, "--wait", "60", stdout=out
        )
    assert "FAD06" in out.getvalue()


def test_dians_default_set_with_a_credit_and_a_debit_note_is_accepted(dian, jobs):
    """2 invoices, then a credit and a debit note referencing the first invoice by its CUFE."""
    run = habilitacion.start_test_set(test_set_id=TEST_SET, counts=SMALL_SET)
    documents = list(run.documents.order_by("position"))
    assert [d.kind for d in documents] == ["invoice", "invoice", "credit_note", "debit_note"]
    invoice = documents[0]
    run = drive(run)
    assert run.status == TestSetRunStatus.ACCEPTED, list(run.documents.values())
    for document in run.documents.filter(kind__in=["credit_note", "debit_note"]):
        assert document.status == TestDocumentStatus.ACCEPTED, document.status_description
        sent = _xml_sent(bytes(document.request))
        reference = sent.find(f".//{{{CAC}}}BillingReference/{{{CAC}}}InvoiceDocumentReference")
        assert reference is not None
        assert reference.findtext(f"{{{CBC}}}ID") == invoice.full_number
        assert reference.findtext(f"{{{CBC}}}UUID") == invoice.document_key
        assert sent.findtext(f"{{{CBC}}}UUID") == document.document_key  # the CUDE


def test_notes_wait_until_dian_has_the_invoices_when_dian_was_down(dian, jobs):
    """DIAN unavailable for the first invoice: the notes that reference it are not sent in the
    same pass (DIAN would refuse them, CBG01/DBG01: "the referenced invoice was not validated"),
    but once the invoices are uploaded; the set is accepted."""
    arm(dian, "http_503", times="1")
    run = habilitacion.start_test_set(test_set_id=TEST_SET, counts=SMALL_SET)
    habilitacion.advance_run(run_id=run.pk)
    first, _second, *notes = run.documents.order_by("position")
    assert (first.status, first.tries) == (TestDocumentStatus.TO_SEND, 1)
    for note in notes:  # not sent, and not tried again before the invoice is
        assert note.status == TestDocumentStatus.TO_SEND and not note.request
        assert note.next_try_at >= first.next_try_at
    # The run's page says why each of them is still to send.
    staff = Client()
    staff.force_login(make_staff())
    staff.cookies["django_language"] = "es-co"
    page = staff.get(reverse("admin:einvoice_testsetrun_change", args=[run.pk])).content.decode()
    again = timezone.localtime(first.next_try_at).strftime("%H:%M")
    assert f"La DIAN no estaba disponible; se envía de nuevo por sí solo a las {again}." in page
    assert page.count("Se envía cuando la DIAN tenga las facturas del set") == 2
    run = drive(run)
    assert run.status == TestSetRunStatus.ACCEPTED, list(
        run.documents.values_list("kind", "status", "status_description")
    )
