"""Debit notes for late-payment interest, and what every debit note says about its payment.

Interest (DIAN concept 1) compensates a late payment; it is not a sale, so it is outside IVA's
base: one line "Intereses de mora" without IVA (a line without IVA subtotal in DIAN's UBL). The
other concepts keep the invoice lines' IVA. A debit note is a new amount owed on the account:
its PaymentMeans is a credit sale (ID 2) due when its order is, in the XML and on the PDF."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from lxml import etree

from clientarea.billing import debit_notes
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.einvoice import validation
from clientarea.einvoice.cufe import compute_cufe, cufe_fields_from_xml
from clientarea.einvoice.services import NoteRefused
from clientarea.einvoice.ubl import NS
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    make_provider()
    return make_customer(
        "ana@example.com", first_name="Ana", last_name="Ruiz", document_number="1020304051"
    )


def issue(captured, invoice, *, concept: str, amount: str = "10000", **extra):
    with captured(execute=True):
        note, order = debit_notes.issue_debit_note(
            invoice=invoice, concept=concept, reason="Pago tardío de la factura",
            amount=Decimal(amount), **extra,
        )  # fmt: skip
    note.refresh_from_db()
    order.refresh_from_db()
    return note, order


def _xml(note) -> etree._Element:
    return etree.fromstring(bytes(note.xml_signed))


def _pdf_text(note, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed")
    path = tmp_path / f"{note.full_number}.pdf"
    path.write_bytes(bytes(note.pdf))
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def _valid_with_its_cude(note, settings) -> None:
    root = _xml(note)
    assert validation.validate_invoice(root) == []
    cude = compute_cufe(cufe_fields_from_xml(root), settings.EINVOICE_SOFTWARE_PIN)
    assert cude == note.cufe == root.findtext("cbc:UUID", namespaces=NS)


def test_interest_is_one_line_without_iva(
    django_capture_on_commit_callbacks, ana, settings, tmp_path
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)  # 100.000 + IVA 19 %
    note, order = issue(django_capture_on_commit_callbacks, invoice, concept="1")
    # 10.000 of interest is owed: no IVA on it.
    assert note.total == Decimal("10000.00")
    assert (order.subtotal, order.tax_total, order.total) == (
        Decimal("10000.00"), Decimal("0.00"), Decimal("10000.00"),
    )  # fmt: skip
    root = _xml(note)
    (line,) = root.findall("cac:DebitNoteLine", NS)
    assert line.findtext("cac:Item/cbc:Description", namespaces=NS) == "Intereses de mora"
    assert line.find("cac:TaxTotal", NS) is None  # outside IVA: no IVA subtotal
    assert root.find("cac:TaxTotal", NS) is None
    totals = root.find("cac:RequestedMonetaryTotal", NS)
    assert totals.findtext("cbc:LineExtensionAmount", namespaces=NS) == "10000.00"
    assert totals.findtext("cbc:TaxExclusiveAmount", namespaces=NS) == "0.00"
    assert totals.findtext("cbc:PayableAmount", namespaces=NS) == "10000.00"
    _valid_with_its_cude(note, settings)
    text = _pdf_text(note, tmp_path)
    assert "Intereses de mora" in text and "Excluido" in text
    assert "Base excluida de IVA $ 10.000,00" in text and "IVA 19 %" not in text


def test_staff_may_describe_the_interest_line(django_capture_on_commit_callbacks, ana):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    note, _order = issue(
        django_capture_on_commit_callbacks, invoice, concept="1",
        description="Intereses de mora, 30 días al 2 % mensual",
    )  # fmt: skip
    (line,) = _xml(note).findall("cac:DebitNoteLine", NS)
    assert line.findtext("cac:Item/cbc:Description", namespaces=NS).startswith(
        "Intereses de mora, 30"
    )


def test_interest_by_line_is_refused(django_capture_on_commit_callbacks, ana):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    with pytest.raises(NoteRefused, match="un solo valor, sin IVA"):
        debit_notes.issue_debit_note(
            invoice=invoice, concept="1", reason="Mora", lines={1: Decimal("1000")}
        )


def test_a_price_correction_keeps_the_invoice_lines_iva(
    django_capture_on_commit_callbacks, ana, settings
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    note, order = issue(django_capture_on_commit_callbacks, invoice, concept="3")
    assert note.total == order.total == Decimal("11900.00")
    (line,) = _xml(note).findall("cac:DebitNoteLine", NS)
    assert line.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS) == "1900.00"
    _valid_with_its_cude(note, settings)


@pytest.mark.parametrize("concept", ["1", "3"])
def test_a_debit_note_is_a_credit_sale_due_with_its_order(
    django_capture_on_commit_callbacks, ana, settings, tmp_path, concept
):
    """The invoice was paid by transfer (contado, 45); the note is owed, due with its order."""
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    assert (invoice.document["payment_form"], invoice.document["payment_means_code"]) == ("1", "45")
    note, order = issue(django_capture_on_commit_callbacks, invoice, concept=concept)
    assert order.state == "pending"
    means = _xml(note).find("cac:PaymentMeans", NS)
    assert means.findtext("cbc:ID", namespaces=NS) == "2"  # crédito
    assert means.findtext("cbc:PaymentMeansCode", namespaces=NS) == "1"  # instrumento no definido
    assert means.findtext("cbc:PaymentDueDate", namespaces=NS) == order.due_date.isoformat()
    _valid_with_its_cude(note, settings)
    text = _pdf_text(note, tmp_path)
    assert "Forma de pago Crédito" in text and "Contado" not in text
    assert "Medio de pago Instrumento no definido" in text
    assert f"Fecha de vencimiento {order.due_date:%d/%m/%Y}" in text


def test_the_form_explains_interest_and_refuses_it_by_line(
    django_capture_on_commit_callbacks, ana, settings
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    client.force_login(make_staff())
    url = reverse("admin:billing_order_debit-note", args=[invoice.order_id])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
    html = page.content.decode()
    assert "no son una venta, así que están por fuera del IVA" in html
    assert "Descripción de la línea de intereses" in html
    refused = client.post(
        url,
        {"concept": "1", "reason": "Mora", "scope": "lines", "line_1": "1000"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert refused.status_code == 200
    assert "Los intereses de mora son un solo valor, sin IVA" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url,
            {"concept": "1", "reason": "Mora", "scope": "amount", "amount": "5000",
             "description": "Intereses de mora de noviembre"},
        )  # fmt: skip
    assert done.status_code == 302
    note = invoice.notes.get()
    assert note.total == Decimal("5000.00")
    assert note.document["lines"][0]["description"] == "Intereses de mora de noviembre"
