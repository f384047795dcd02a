"""Paying an order issues its DIAN invoice: number, CUFE, signature, PDF, email; waiting queue; CLI."""

import datetime as dt
import io
import shutil
import subprocess
import zipfile
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import cufe, signing, validation
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.models import Invoice, InvoiceStatus, NumberingResolution
from clientarea.einvoice.services import issue_waiting_invoices
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


def make_resolution(**overrides) -> NumberingResolution:
    data = dict(
        number="18760000001",
        prefix="SETP",
        range_from=990000000,
        range_to=995000000,
        next_number=990000000,
        valid_from=dt.date(2019, 1, 19),
        valid_to=dt.date(2030, 1, 19),
        technical_key=DIAN_TEST_TECHNICAL_KEY,
        environment="2",
    )
    data.update(overrides)
    return NumberingResolution.objects.create(**data)


@pytest.fixture
def setup():
    make_provider()
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
    domain = Product.objects.create(
        code="co", name="Dominio .co", kind="domain", tax_treatment="exempt", tax_rate=0
    )
    ProductPrice.objects.create(product=domain, cycle="annual", price=Decimal("95000"))
    return hosting, domain


def pay(order, method="card"):
    return billing.mark_order_paid(
        order_id=order.pk, paid_at=timezone.now(), via="payu", method=method, reference="payu:tx"
    )


def test_a_payment_recorded_days_later_is_invoiced_when_recorded(setup):
    """A bank transfer staff register three weeks late: the invoice is dated today, since DIAN
    refuses an invoice issued more than a few days before it receives it, or signed on another
    day than its issue date (FAD09c, FAD09e)."""
    hosting, _ = setup
    make_resolution()
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label="tarde.co"
    )
    paid_at = timezone.now() - dt.timedelta(days=22)
    billing.mark_order_paid(
        order_id=order.pk, paid_at=paid_at, via="manual", method="transfer", reference="tx 1"
    )
    invoice = Invoice.objects.get(order=order)
    assert invoice.issued_at is not None
    assert timezone.now() - invoice.issued_at < dt.timedelta(minutes=1)
    assert invoice.paid_at == paid_at  # the payment keeps its own date


def test_paying_issues_a_valid_signed_invoice_and_emails_it(
    setup, django_capture_on_commit_callbacks
):
    hosting, _ = setup
    make_resolution()
    customer = make_customer(
        person_type="juridica",
        document_type="31",
        document_number="900108281",
        legal_name="Ópticas S.A.S.",
    )
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="opticas.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == InvoiceStatus.ISSUED and invoice.full_number == "SETP990000000"
    # Issued in the paid transaction, so for a payment applied as it happens: the payment time.
    paid_at = order.__class__.objects.get(pk=order.pk).paid_at
    assert invoice.issued_at and paid_at
    assert abs(invoice.issued_at - paid_at) < dt.timedelta(minutes=1)
    # The unsigned XML fixed at payment already validates and its CUFE recomputes from its own fields.
    assert validation.validate_invoice(invoice.xml_unsigned.encode(), allow_unsigned=True) == []
    assert (
        cufe.cufe_from_xml(invoice.xml_unsigned.encode(), DIAN_TEST_TECHNICAL_KEY) == invoice.cufe
    )
    # Rendered in the worker: signature, AttachedDocument, PDF
    signed = bytes(invoice.xml_signed)
    assert validation.validate_invoice(signed) == []
    assert signing.verify_invoice_signature(signed)
    assert validation.validate_attached_document(bytes(invoice.attached_document)) == []
    email = OutgoingEmail.objects.get(template="invoice_issued", customer=customer)
    assert email.subject == "900123456;Conexcol S.A.S.;SETP990000000;01;Conexcol"
    names = {a.filename: bytes(a.content) for a in email.attachments.all()}
    assert sum(len(v) for v in names.values()) < 2 * 1024 * 1024
    zip_name = next(n for n in names if n.endswith(".zip"))
    with zipfile.ZipFile(io.BytesIO(names[zip_name])) as archive:
        xml_name = next(n for n in archive.namelist() if n.endswith(".xml"))
        assert validation.validate_attached_document(archive.read(xml_name)) == []
    assert names["SETP990000000.pdf"].startswith(b"%PDF")


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_the_pdf_shows_the_cufe_and_the_required_fields(
    setup, django_capture_on_commit_callbacks, tmp_path
):
    hosting, _ = setup
    make_resolution()
    customer = make_customer(first_name="Ana", last_name="Gómez", document_number="1017234567")
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="ana.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, method="pse")
    invoice = Invoice.objects.get(order=order)
    path = tmp_path / "i.pdf"
    path.write_bytes(bytes(invoice.pdf))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True
    ).stdout
    flat = "".join(text.split())
    assert invoice.cufe in flat
    for needle in ("SETP990000000", "900123456-8", "1017234567", "18760000001", order.number):
        assert needle in flat


def test_numbers_are_consecutive_and_exempt_items_are_handled(
    setup, django_capture_on_commit_callbacks
):
    hosting, domain = setup
    make_resolution()
    customer = make_customer()
    orders = [
        billing.order_new_service(customer=customer, product=p, cycle="annual", label=f"x{i}.co")
        for i, p in enumerate([hosting, domain, hosting])
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for order in orders:
            pay(order)
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert numbers == [990000000, 990000001, 990000002]
    exempt = Invoice.objects.get(order=orders[1])
    assert validation.validate_invoice(bytes(exempt.xml_signed)) == []
    assert NumberingResolution.objects.get().next_number == 990000003


def test_an_exhausted_range_keeps_the_order_paid_and_the_invoice_waits(
    setup, django_capture_on_commit_callbacks
):
    hosting, _ = setup
    resolution = make_resolution(range_from=1, range_to=1, next_number=2, prefix="FE")
    customer = make_customer()
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="a.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay(order)
    assert outcome.applied and outcome.order.state == "paid"
    invoice = Invoice.objects.get(order=order)
    assert (
        invoice.status == InvoiceStatus.WAITING
        and "exhausted" in invoice.waiting_reason
        and invoice.number is None
    )
    assert OutgoingEmail.objects.filter(template="staff_invoice_waiting").exists()
    # Staff extend the numbering; the queue issues it, with no number skipped.
    resolution.range_to = 10
    resolution.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert issue_waiting_invoices() == {"issued": 1, "waiting": 0}
    invoice.refresh_from_db()
    assert invoice.full_number == "FE2" and invoice.rendered_at


def test_the_staff_alert_of_a_waiting_invoice_is_rendered_after_commit(setup, monkeypatch):
    """Written in the paid transaction with the invoice's id and the reason, rendered by the worker
    with the text the transaction used to render; an invoice issued meanwhile is not reported."""
    from django.conf import settings

    from clientarea.notifications import delivery, rendering
    from clientarea.notifications import services as notifications

    hosting, _ = setup
    monkeypatch.setattr(notifications, "_schedule", lambda *a, **k: None)  # the worker, below
    resolution = make_resolution(range_from=1, range_to=1, next_number=2, prefix="FE")
    customer = make_customer()
    orders = [
        billing.order_new_service(customer=customer, product=hosting, cycle="annual", label=label)
        for label in ("a.co", "b.co")
    ]
    renders = []
    real = rendering.render_templates

    def counted(**kwargs):
        renders.append(kwargs["template"])
        return real(**kwargs)

    monkeypatch.setattr(rendering, "render_templates", counted)
    for order in orders:
        pay(order)
    assert renders == []  # nothing rendered inside the paid transactions
    first, second = OutgoingEmail.objects.filter(template="staff_invoice_waiting").order_by("id")
    invoice = Invoice.objects.get(order=orders[0])
    assert first.render_refs == {"invoice": invoice.pk, "reason": invoice.waiting_reason}
    assert first.body_text == ""
    # What the transaction used to render, for the same invoice and reason.
    eager = notifications.render_email(
        template="staff_invoice_waiting",
        language=settings.LANGUAGE_CODE,
        context={
            "invoice": invoice,
            "order": invoice.order,
            "reason": invoice.waiting_reason,
            "admin_url": settings.SITE_URL + "/admin/einvoice/invoice/?status__exact=waiting",
        },
    )
    assert delivery.deliver_email(email_id=first.pk)
    first.refresh_from_db()
    assert (first.subject, first.body_text, first.body_html) == eager
    assert orders[0].number in first.subject
    # Staff extend the numbering before the second alert is rendered: nothing is left to do.
    resolution.range_to = 10
    resolution.save()
    assert issue_waiting_invoices() == {"issued": 2, "waiting": 0}
    assert not delivery.deliver_email(email_id=second.pk)
    second.refresh_from_db()
    assert second.status == "failed" and "no longer waiting" in second.last_error


def test_an_expired_resolution_makes_the_invoice_wait(setup):
    hosting, _ = setup
    make_resolution(valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2020, 12, 31))
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label="a.co"
    )
    pay(order)
    assert "no active numbering resolution" in Invoice.objects.get(order=order).waiting_reason


def test_missing_customer_data_never_makes_an_invalid_invoice(setup):
    hosting, _ = setup
    make_resolution()
    customer = make_customer(municipality_code="")
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="a.co"
    )
    pay(order)
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == InvoiceStatus.WAITING and "incomplete" in invoice.waiting_reason
    assert NumberingResolution.objects.get().next_number == 990000000  # no number consumed


def test_an_issued_invoice_keeps_its_snapshot(setup, django_capture_on_commit_callbacks):
    hosting, _ = setup
    make_resolution()
    customer = make_customer(address="Calle Vieja 1")
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="a.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    customer.address = "Calle Nueva 2"
    customer.save()
    invoice = Invoice.objects.get(order=order)
    assert invoice.document["customer"]["address_line"] == "Calle Vieja 1"


def test_cli_validates_an_issued_invoice_and_recomputes_its_cufe(
    setup, django_capture_on_commit_callbacks, tmp_path, capsys
):
    hosting, _ = setup
    make_resolution()
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label="a.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    invoice = Invoice.objects.get(order=order)
    path = tmp_path / "invoice.xml"
    path.write_bytes(bytes(invoice.xml_signed))
    call_command("einvoice", "validate", str(path), "--technical-key", DIAN_TEST_TECHNICAL_KEY)
    out = capsys.readouterr().out
    assert "valid" in out and "CUFE matches" in out
    with pytest.raises(CommandError, match="MISMATCH"):
        call_command("einvoice", "validate", str(path), "--technical-key", "wrong-key")
    attached = tmp_path / "attached.xml"
    attached.write_bytes(bytes(invoice.attached_document))
    call_command("einvoice", "validate", str(attached), "--technical-key", DIAN_TEST_TECHNICAL_KEY)
    call_command("einvoice", "show", invoice.full_number)
    shown = capsys.readouterr().out
    assert invoice.cufe in shown
    # The payment means with its name, not DIAN's bare code.
    assert f"{invoice.payment_means_code} Credit card" in shown


def test_cli_rejects_malformed_and_non_invoice_files(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<Invoice><unclosed>")
    with pytest.raises(CommandError, match="not valid XML"):
        call_command("einvoice", "validate", str(bad))
    other = tmp_path / "other.xml"
    other.write_text("<note>hello</note>")
    with pytest.raises(CommandError, match="not a UBL"):
        call_command("einvoice", "validate", str(other))
    with pytest.raises(CommandError, match="no such file"):
        call_command("einvoice", "validate", str(tmp_path / "missing.xml"))
    with pytest.raises(CommandError, match="no invoice numbered"):
        call_command("einvoice", "show", "NOPE1")


def test_cli_exit_code_is_non_zero_for_an_invalid_file(tmp_path):
    import sys

    bad = tmp_path / "bad.xml"
    bad.write_text("not xml at all")
    result = subprocess.run(
        [sys.executable, "-m", "clientarea.cli", "einvoice", "validate", str(bad)],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "clientarea.settings_test"},
    )
    assert result.returncode != 0 and "not valid XML" in result.stderr


def test_customers_download_only_their_own_invoices(
    setup, client, django_capture_on_commit_callbacks
):
    hosting, _ = setup
    make_resolution()
    alice, bob = make_customer(), make_customer()
    order = billing.order_new_service(customer=alice, product=hosting, cycle="annual", label="a.co")
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    number = Invoice.objects.get().full_number
    client.force_login(alice.user)
    listing = client.get("/clientarea/invoices/").content.decode()
    assert number in listing
    assert client.get(f"/clientarea/invoices/{number}/pdf/").content.startswith(b"%PDF")
    assert client.get(f"/clientarea/invoices/{number}/xml/")["Content-Type"] == "application/xml"
    client.force_login(bob.user)
    assert client.get(f"/clientarea/invoices/{number}/pdf/").status_code == 404
    assert number not in client.get("/clientarea/invoices/").content.decode()


@given(
    lines=st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999"), places=2),
            st.integers(min_value=1, max_value=5),
            st.sampled_from(["taxed", "exempt", "excluded"]),
        ),
        min_size=1,
        max_size=6,
    ),
    company=st.booleans(),
    environment=st.sampled_from(["1", "2"]),
)
@hsettings(max_examples=40, deadline=None)
def test_the_cufe_fixed_at_payment_is_the_one_read_back_from_the_xml(lines, company, environment):
    """The paid transaction computes the CUFE without XML; the worker's XML must give the same one."""
    from clientarea.einvoice import ubl
    from clientarea.einvoice.documents import Line
    from clientarea.einvoice.tests import factories

    built = tuple(
        Line.build(
            description=f"Line {i}",
            quantity=Decimal(q),
            unit_price=price,
            tax_rate=Decimal("19") if treatment == "taxed" else Decimal("0"),
            tax_treatment=treatment,
        )
        for i, (price, q, treatment) in enumerate(lines)
    )
    customer = factories.company_customer() if company else factories.natural_customer()
    doc = factories.invoice(lines=built, customer=customer, environment=environment)
    assert ubl.expected_cufe(doc) == ubl.invoice_cufe(ubl.build_invoice_xml(doc))


@pytest.mark.parametrize(
    ("price", "rounding", "payable"),
    [
        (Decimal("45990"), Decimal("-0.10"), "54728.00"),  # 54.728,10 → 54.728
        (Decimal("45999"), Decimal("0.19"), "54739.00"),  # 54.738,81 → 54.739
    ],
)
def test_the_rounding_to_whole_pesos_is_in_the_invoice(
    setup, django_capture_on_commit_callbacks, tmp_path, price, rounding, payable
):
    from lxml import etree

    make_resolution()
    product = Product.objects.create(code="vps", name="VPS", kind="vps")
    ProductPrice.objects.create(product=product, cycle="monthly", price=price)
    customer = make_customer()
    order = billing.order_new_service(
        customer=customer, product=product, cycle="monthly", label="vps.co"
    )
    assert (order.rounding, order.total) == (rounding, Decimal(payable))
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    invoice = Invoice.objects.get(order=order)
    signed = bytes(invoice.xml_signed)
    assert validation.validate_invoice(signed) == []  # UBL XSD: PayableRoundingAmount in its place
    ns = {
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    }
    total = etree.fromstring(signed).find("cac:LegalMonetaryTotal", ns)
    assert total.findtext("cbc:PayableRoundingAmount", namespaces=ns) == f"{rounding:.2f}"
    assert total.findtext("cbc:PayableAmount", namespaces=ns) == payable
    assert Decimal(total.findtext("cbc:TaxInclusiveAmount", namespaces=ns)) + rounding == Decimal(
        payable
    )
    # The CUFE covers the amount actually paid (ValTot = PayableAmount)
    assert cufe.cufe_from_xml(signed, DIAN_TEST_TECHNICAL_KEY) == invoice.cufe
    assert invoice.total == Decimal(payable)
    if shutil.which("pdftotext"):
        path = tmp_path / "i.pdf"
        path.write_bytes(bytes(invoice.pdf))
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True
        ).stdout
        assert "Redondeo a pesos enteros" in text
