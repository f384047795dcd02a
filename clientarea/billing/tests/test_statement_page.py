"""The statement of account page as a Spanish-speaking customer first sees it."""

import datetime as dt
import shutil
import subprocess

import pytest
from django.urls import reverse

from clientarea.lib.dates import local_today
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_the_range_fields_show_and_take_the_range_day_first_in_both_languages(
    client, settings, language
):
    """The browser's date box showed the range in the browser's order (month first in an
    English browser) and read what was typed that way: text boxes, day/month/year."""
    make_provider()
    alice = make_customer("alice@example.com")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(alice.user)
    page = client.get(reverse("billing:statement")).content.decode()
    today = local_today()
    assert f'type="text" name="start" value="01/01/{today.year}"' in page
    assert f'type="text" name="end" value="{today:%d/%m/%Y}"' in page
    typed = client.get(reverse("billing:statement"), {"start": "01/02/2026", "end": "12/03/2026"})
    statement = typed.context["statement"]
    assert (statement.start, statement.end) == (dt.date(2026, 2, 1), dt.date(2026, 3, 12))
    iso = client.get(reverse("billing:statement"), {"start": "2026-02-01", "end": "2026-03-12"})
    assert (iso.context["statement"].start, iso.context["statement"].end) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 12),
    )


def statement_pdf_text(client, settings, tmp_path, customer) -> str:
    """The customer's statement PDF, in Spanish, as pdftotext reads it."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es-co"
    client.force_login(customer.user)
    pdf = client.get(reverse("billing:statement"), {"format": "pdf"})
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf.content)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_the_statement_pdf_names_the_sellers_nit_as_such(client, settings, tmp_path):
    """It printed "Conexcol Comunicaciones S.A.S. · 800123456-5", a bare number."""
    provider = make_provider()
    text = statement_pdf_text(client, settings, tmp_path, make_customer("alice@example.com"))
    assert f"{provider.legal_name} · NIT {provider.nit_display}" in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_the_statement_pdf_gives_a_companys_nit_with_its_check_digit(client, settings, tmp_path):
    """It printed "Tienda Andina S.A.S. · NIT 901234567" without the check digit, while the
    seller's NIT beside it and every other page show it ("901234567-7")."""
    make_provider()
    company = make_customer("compras@example.com", person_type="juridica", document_type="31")
    text = statement_pdf_text(client, settings, tmp_path, company)
    nit = f"NIT {company.document_number}-{company.check_digit}"
    assert f"{company.display_name} · {nit}" in text, text


def test_a_movement_without_an_order_has_no_stray_separator(client, settings):
    """Credit added by a payment, and credit refunded, read "· payu:…" in the Document column."""
    from decimal import Decimal

    from clientarea.billing import ledger

    make_provider()
    alice = make_customer("alice@example.com")
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("25000"), reference="payu:tx-77", via="payu"
    )
    client.force_login(alice.user)
    page = client.get(reverse("billing:statement")).content.decode()
    cell = page.split('data-label="Documento">', 2)[1].split("</td>", 1)[0]
    # kept whole (never broken after its hyphen), no "· " before it
    assert cell == '<span class="reference"><span class="nowrap">payu:tx-77</span></span>'


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_the_statement_pdf_writes_dates_day_first_and_the_csv_keeps_them_iso(
    client, settings, tmp_path
):
    """The PDF printed 2026-12-05 (ISO) where a Colombian reader (and the invoices) write
    05/12/2026; the CSV keeps ISO, which spreadsheets and scripts sort."""
    from decimal import Decimal

    from django.utils import timezone

    from clientarea.billing import ledger
    from clientarea.lib.dates import BOGOTA

    make_provider()
    alice = make_customer("alice@example.com")
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("25000"), reference="payu:tx-77", via="payu"
    )
    now = timezone.localtime(timezone.now(), BOGOTA)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es-co"
    client.force_login(alice.user)
    pdf = client.get(reverse("billing:statement"), {"format": "pdf"})
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    start = local_today().replace(month=1, day=1)
    assert f"{start:%d/%m/%Y}" in text and f"{local_today():%d/%m/%Y}" in text
    assert now.strftime("%d/%m/%Y") in text
    assert now.strftime("%Y-%m-%d") not in text
    csv_text = client.get(reverse("billing:statement"), {"format": "csv"}).content.decode()
    assert now.strftime("%Y-%m-%d") in csv_text
