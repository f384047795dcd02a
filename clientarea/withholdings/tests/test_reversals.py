"""Withholdings that credit notes reversed: the agent recovers them from DIAN (DUR 1625/2016 art.
1.2.4.17), so no certificate is expected for them. The ledger posts the reversal
(``billing.ledger``, "withholdings on the credited part"); the withheld amounts record it per kind
and Withholdings (the customer's page, the back office's list, report, CSV and the acceptance of a
certificate) expect only the rest."""

from __future__ import annotations

import csv
import importlib
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import credit_notes
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.billing.tests.test_credit_notes_withholdings import agent
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.lib.dates import local_today
from clientarea.test import make_staff
from clientarea.withholdings import selectors, services
from clientarea.withholdings.calculation import spread_reversal
from clientarea.withholdings.models import (
    CertificateStatus,
    OrderWithholding,
    WithholdingCertificate,
)
from clientarea.withholdings.tests.helpers import PDF

pytestmark = pytest.mark.django_db
__all__ = ["agent"]  # fixture

D = Decimal
WITHHELD = {"06": D("40000.00"), "05": D("28500.00"), "07": D("9660.00")}  # 1.000.000 + IVA


def reversed_by_kind(order) -> dict[str, Decimal]:
    return dict(OrderWithholding.objects.filter(order=order).values_list("kind", "reversed_amount"))


def test_a_reversal_is_spread_over_the_kinds_in_proportion_and_adds_up():
    half = spread_reversal(withheld=WITHHELD, reversed_before={}, amount=D("39080"))
    assert half == {"06": D("20000.00"), "05": D("14250.00"), "07": D("4830.00")}
    # Three notes of a third (withheld_share's 26.053, 26.054, 26.053): never a kind over what
    # it withheld, and together exactly what was withheld.
    before: dict[str, Decimal] = {}
    for amount in (D("26053"), D("26054"), D("26053")):
        share = spread_reversal(withheld=WITHHELD, reversed_before=before, amount=amount)
        assert sum(share.values()) == amount
        for kind, value in share.items():
            before[kind] = before.get(kind, D(0)) + value
    assert before == WITHHELD
    # Nothing left, nothing more; cents when the amounts have cents.
    assert spread_reversal(withheld=WITHHELD, reversed_before=WITHHELD, amount=D("10")) == {}
    cents = spread_reversal(
        withheld={"06": D("10.00"), "05": D("10.00")}, reversed_before={}, amount=D("0.05")
    )
    assert cents == {"06": D("0.03"), "05": D("0.02")}


def test_an_annulment_reverses_every_withholding_and_none_is_expected_any_more(
    django_capture_on_commit_callbacks, agent, client
):
    """Withholdings kept the 78.160 of an annulled invoice open, waiting for a certificate."""
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    order = invoice.order
    assert selectors.open_total(agent) == D("78160.00")
    with django_capture_on_commit_callbacks(execute=True):
        note, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="2", reason="Servicio cancelado"
        )
    assert LedgerEntry.objects.get(kind=LedgerKind.WITHHOLDING_REVERSED).amount == D("78160.00")
    assert reversed_by_kind(order) == WITHHELD
    assert selectors.open_total(agent) == 0
    assert all(row.is_reversed and not row.is_open for row in OrderWithholding.objects.all())
    audit = AuditEvent.objects.get(action="withholdings.reversed")
    assert audit.changes["note"] == note.full_number and audit.changes["amount"] == "78160.00"

    client.force_login(agent.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    with translation.override("en"):
        page = client.get("/clientarea/withholdings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="open-total">$ 0<' in page
    assert page.count("Reversed by a credit note") == 3 and ">Open<" not in page
    assert "$ 78.160 was on the part of invoices that credit notes cancelled" in page

    # Staff: the list, the report and its CSV say so; a certificate for the year settles nothing.
    client.force_login(make_staff())
    year = local_today().year
    listing = client.get(reverse("admin:withholdings_orderwithholding_changelist")).content
    assert listing.decode().count("Revertida por una nota crédito") == 3
    report = client.get(
        reverse("admin:withholdings_orderwithholding_report"), {"year": year, "format": "csv"}
    ).content.decode()
    header, row = list(csv.reader(io.StringIO(report)))[:2]
    assert header[6:9] == ["Total", "Revertido por notas crédito", "Abierto"]
    assert row[6:10] == [
        "78160.00",
        "78160.00",
        "0.00",
        "Revertido por notas crédito: no se espera certificado",
    ]
    certificate = WithholdingCertificate.objects.create(
        customer=agent, kind="06", year=year, file=SimpleUploadedFile("c.pdf", PDF)
    )
    url = reverse("admin:withholdings_withholdingcertificate_accept", args=[certificate.pk])
    assert "0 valor(es), $ 0" in client.get(url).content.decode()
    _certificate, settled = services.accept_certificate(certificate_id=certificate.pk, actor=None)
    assert settled == 0
    assert not OrderWithholding.objects.filter(settled_by__isnull=False).exists()


def test_after_a_partial_note_the_certificate_is_expected_for_the_rest(
    django_capture_on_commit_callbacks, agent, client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    with django_capture_on_commit_callbacks(execute=True):
        credit_notes.issue_credit_note(
            invoice=invoice, concept="1", reason="Mitad del servicio", amount=D("500000")
        )
    assert reversed_by_kind(invoice.order) == {
        "06": D("20000.00"),
        "05": D("14250.00"),
        "07": D("4830.00"),
    }
    assert selectors.open_total(agent) == D("39080.00")
    client.force_login(agent.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    with translation.override("en"):
        page = client.get("/clientarea/withholdings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="open-total">$ 39.080<' in page
    assert '<span class="nowrap">$ 20.000</span> reversed by a credit note' in page
    assert '<span class="nowrap">$ 20.000</span> expected on the certificate' in page
    # Staff accept a ReteFuente certificate: it settles the rest it is expected to cover.
    client.force_login(make_staff())
    certificate = WithholdingCertificate.objects.create(
        customer=agent, kind="06", year=local_today().year, file=SimpleUploadedFile("c.pdf", PDF)
    )
    url = reverse("admin:withholdings_withholdingcertificate_accept", args=[certificate.pk])
    assert "1 valor(es), $ 20.000" in client.get(url).content.decode()
    _certificate, settled = services.accept_certificate(certificate_id=certificate.pk, actor=None)
    assert settled == 1
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ACCEPTED
    assert selectors.open_total(agent) == D("19080.00")  # ReteIVA 14.250 + ReteICA 4.830
    # A second half note reverses the rest: the settled ReteFuente keeps its certificate.
    with django_capture_on_commit_callbacks(execute=True):
        credit_notes.issue_credit_note(
            invoice=invoice, concept="1", reason="La otra mitad", amount=D("500000")
        )
    assert reversed_by_kind(invoice.order) == WITHHELD
    assert selectors.open_total(agent) == 0
    assert OrderWithholding.objects.get(kind="06").settled_by == certificate


def test_the_data_migration_records_the_reversals_already_on_the_ledger(
    django_capture_on_commit_callbacks, agent
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            credit_notes.issue_credit_note(
                invoice=invoice, concept="1", reason="Mitad", amount=D("500000")
            )
    OrderWithholding.objects.update(reversed_amount=0)  # as before the withholdings app knew
    assert selectors.open_total(agent) == D("78160.00")
    migration = importlib.import_module(
        "clientarea.billing.migrations.0020_withholdings_reversed_by_credit_notes"
    )
    migration.record_reversals(apps, None)
    assert reversed_by_kind(invoice.order) == WITHHELD
    assert selectors.open_total(agent) == 0
    migration.forget_reversals(apps, None)
    assert selectors.open_total(agent) == D("78160.00")
