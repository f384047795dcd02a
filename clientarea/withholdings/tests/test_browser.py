"""In a real browser: a company that withholds pays the net of its order by PSE (PayU simulator),
later uploads its withholding certificate, and staff accept it in the back office."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.test import ACCESS_CODE, make_customer, make_provider, make_staff
from clientarea.tests.test_accessibility import check_pages
from clientarea.withholdings.models import CertificateStatus, OrderWithholding
from clientarea.withholdings.tests.helpers import PDF, make_agent, make_rules

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent_order():
    make_provider()
    make_resolution()
    make_rules(local_today().year)
    company = make_customer(
        "compras@empresa.example",
        person_type="juridica",
        document_type="31",
        document_number="900108281",
        check_digit="3",
        legal_name="Empresa Andina S.A.S.",
        fiscal_responsibilities="O-23",
    )
    make_agent(company)
    order = billing.create_order(
        customer=company,
        notify=False,
        lines=[
            billing.LineSpec(
                kind=ItemKind.OTHER,
                description="Hosting Empresarial",
                unit_price=Decimal("1000000"),
            )
        ],
    )
    return company, order


def test_an_agent_pays_the_net_by_pse_and_staff_accept_its_certificate(
    page, browser, live_site, agent_order, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    company, order = agent_order
    make_staff("staff@conexcol.example")
    # The order shows the total, each withholding and the net to pay
    page.goto(live_site.url + "/clientarea/login/")
    page.fill("#id_username", "compras@empresa.example")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.click("#nav-billing")
    assert "$ 1.111.840" in page.locator("#net-due").inner_text()
    page.click(f"tr[data-number='{order.number}'] a")
    table = page.locator("#order-withholdings")
    assert "−$ 40.000" in table.locator("tr[data-kind='06']").inner_text()
    assert "−$ 28.500" in table.locator("tr[data-kind='05']").inner_text()
    assert "−$ 9.660" in table.locator("tr[data-kind='07']").inner_text()
    assert page.locator("#order-net").inner_text() == "$ 1.111.840"
    # Pay now charges the net, by PSE at PayU's simulator
    page.click("#pay-now")
    page.wait_for_url(re.compile(r"/payments/pay/"))
    assert page.locator("#pay-total").inner_text() == "$ 1.111.840"
    page.click("#gateway-payu")
    page.get_by_label("Tipo de persona").select_option(index=0)
    page.get_by_label("Tipo de documento").select_option(index=0)
    page.get_by_label("Número de documento").fill("900108281")
    page.get_by_label("Banco").select_option(index=1)
    page.get_by_role("button", name="Continuar a su banco").click()
    page.wait_for_url(re.compile(r"/pse-bank/"))
    page.get_by_role("button", name="Aprobar pago").click()
    page.wait_for_url(re.compile(r"/payments/result/"))
    page.wait_for_selector("#payment-status[data-status='approved']", timeout=20000)
    order.refresh_from_db()
    assert order.state == "paid"
    assert order.payments.get().amount == Decimal("1111840.00")
    withheld = {w.kind: w.amount for w in OrderWithholding.objects.filter(order=order)}
    assert withheld == {
        "06": Decimal("40000.00"),
        "05": Decimal("28500.00"),
        "07": Decimal("9660.00"),
    }
    invoice = Invoice.objects.get(order=order)
    assert b"<cac:WithholdingTaxTotal>" in bytes(invoice.xml_signed)  # full amounts + withholdings
    # Later: the customer uploads the ReteFuente certificate of the year
    page.click("#nav-withholdings")
    assert page.locator("#open-total").inner_text() == "$ 78.160"
    page.select_option("#id_kind", "06")
    page.select_option("#id_year", str(order.paid_at.year))
    page.select_option("#id_period_type", "year")
    bad = tmp_path / "certificado.pdf"
    bad.write_bytes(b"\x89PNG not really a pdf")
    page.set_input_files("#id_file", str(bad))
    page.click("#upload-certificate")
    assert "no es un PDF" in page.locator("#id_file_error").inner_text()
    good = tmp_path / "certificado-retefuente.pdf"
    good.write_bytes(PDF)
    page.set_input_files("#id_file", str(good))
    page.click("#upload-certificate")
    page.wait_for_selector("#certificates-table tr[data-status='pending']")
    # Staff accept it in the back office
    context = browser.new_context(locale="es-CO")
    staff = context.new_page()
    staff.goto(live_site.url + "/admin/login/")
    staff.fill("#id_username", "staff@conexcol.example")
    staff.fill("#id_password", ACCESS_CODE)
    with staff.expect_navigation():
        staff.click("input[type=submit]")
    staff.goto(live_site.url + "/admin/withholdings/withholdingcertificate/?status__exact=pending")
    staff.click("#result_list tbody tr a")
    staff.click("#certificate-accept")
    assert "$ 40.000" in staff.locator("#content-main").inner_text()
    staff.click("#content-main form [type=submit]")
    staff.wait_for_selector(".messagelist .success")
    context.close()
    certificate = company.withholding_certificates.get()
    assert certificate.status == CertificateStatus.ACCEPTED
    page.reload()
    assert page.locator("#certificates-table tr[data-status='accepted']").count() == 1
    assert page.locator("#open-total").inner_text() == "$ 38.160"  # ReteIVA and ReteICA still open
    # The pages with withholdings pass axe's WCAG 2.1 AA rules, at a phone's width too
    pending = billing.create_order(
        customer=company,
        notify=False,
        lines=[billing.LineSpec(kind=ItemKind.OTHER, description="Soporte", unit_price=Decimal("300000"))],
    )  # fmt: skip
    paths = [
        "/clientarea/withholdings/",
        f"/clientarea/billing/{order.number}/",
        f"/clientarea/billing/{pending.number}/",
        f"/payments/pay/{pending.number}/",
        "/clientarea/billing/",
    ]
    assert check_pages(page, live_site.url, paths, "es") == {}
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_site.url + f"/clientarea/billing/{pending.number}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
