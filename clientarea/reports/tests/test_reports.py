"""Dashboard, aging with drill-down, sales book, exports (CSV streamed, XLSX in the worker)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from openpyxl import load_workbook

from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import make_active_service, make_order, make_product
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import local_today
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.reports import sales, selectors, services
from clientarea.reports.models import ExportJob, ExportStatus
from clientarea.reports.tests import make_resolution, paid_order, staff_client
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.REPORTS_EXPORT_DIR = tmp_path / "exports"
    return settings.REPORTS_EXPORT_DIR


def _due(days_overdue: int) -> dt.date:
    return local_today() - dt.timedelta(days=days_overdue)


def _pending(customer, *, overdue: int, price: str = "10000") -> Order:
    due = _due(overdue)
    return make_order(customer, price=price, issue_date=due - dt.timedelta(days=7), due_date=due)


# --- aging -------------------------------------------------------------------------------


def test_aging_buckets_and_their_boundaries():
    make_provider()
    ana, beto = make_customer(), make_customer()
    orders = {
        "current": [_pending(ana, overdue=-5), _pending(beto, overdue=0)],
        "d1_30": [_pending(ana, overdue=1), _pending(ana, overdue=30)],
        "d31_60": [_pending(beto, overdue=31), _pending(beto, overdue=60)],
        "d61_90": [_pending(ana, overdue=61), _pending(ana, overdue=90)],
        "d90": [_pending(beto, overdue=91), _pending(beto, overdue=400)],
    }
    cancelled = _pending(ana, overdue=45)
    Order.objects.filter(pk=cancelled.pk).update(state=OrderState.CANCELLED)
    totals = selectors.aging_totals()
    for key, bucket_orders in orders.items():
        assert totals.buckets[key] == sum(o.total for o in bucket_orders), key
    assert totals.customers == {"current": 2, "d1_30": 1, "d31_60": 1, "d61_90": 1, "d90": 1}

    by_customer = {c.pk: c for c in selectors.receivables()}
    assert by_customer[ana.pk].balance == sum(  # type: ignore[attr-defined]
        o.total for o in Order.objects.filter(customer=ana, state=OrderState.PENDING)
    )
    assert by_customer[beto.pk].d31_60 == orders["d31_60"][0].total * 2  # type: ignore[attr-defined]


def test_aging_drill_down_lists_the_customers_with_links_to_their_admin_page():
    make_provider()
    ana, beto, carla = make_customer(), make_customer(), make_customer()
    _pending(ana, overdue=10, price="5000")
    _pending(beto, overdue=20, price="90000")
    _pending(carla, overdue=-3)  # not due: not in 1–30
    client = staff_client("support")
    response = client.get(reverse("reports:aging", args=["d1_30"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("admin:accounts_customer_change", args=[beto.pk]) in page
    assert reverse("admin:accounts_customer_change", args=[ana.pk]) in page
    assert reverse("admin:accounts_customer_change", args=[carla.pk]) not in page
    assert page.index(f"/{beto.pk}/change/") < page.index(f"/{ana.pk}/change/")  # largest first
    assert client.get(reverse("reports:aging", args=["nonsense"])).status_code == 404


# --- dashboard ---------------------------------------------------------------------------


def test_dashboard_draws_each_chart_with_its_table():
    make_provider()
    make_resolution()
    customer = make_customer()
    service = make_active_service(customer, make_product())
    paid_order(customer, price="100000", via="payu", method="card")
    paid_order(customer, price="50000", via="payvalida", method="cash")
    order = make_order(customer, price="20000", due_date=_due(2), issue_date=_due(9))
    order.items.update(service=service)
    response = staff_client("billing").get(reverse("reports:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg class="chart"') == 3  # income, MRR, aging (no payments: no rates)
    assert page.count("<table") >= 6
    assert "Hosting Pyme" in page  # MRR by product
    assert service.label in page  # about to be suspended
    ctx = response.context
    income = sum(row["amount"] for row in ctx["income_rows"])
    paid_total = sum(o.total for o in Order.objects.filter(state=OrderState.PAID))
    assert income == paid_total
    assert {(r["via"], r["method"]) for r in ctx["income_rows"]} == {
        ("PayU Latam", "Tarjeta"),
        ("Payvalida", "Efectivo"),
    }
    assert ctx["mrr_total"] == Decimal("29000.00")  # one monthly service at 29.000
    # The income chart names each month as Spanish writes it ("dic. 2026", not "Dic 2026").
    month = next(iter(ctx["income_rows"]))["month"]
    with translation.override("es-co"):
        label, capitalised = date_format(month, "N Y"), date_format(month, "M Y")
    assert label[0].islower() and label.endswith(f" {month:%Y}")
    assert f">{label}<" in page and f">{capitalised}<" not in page
    # The store-only transmitter never ran (no commit in this test): both invoices are waiting.
    assert len(ctx["invoices_waiting"]) == 2


def test_dashboard_chart_geometry_is_proportional():
    from clientarea.reports.charts import bar_chart

    chart = bar_chart(
        "t", [("a", Decimal(50), "50"), ("b", Decimal(100), "100"), ("c", Decimal(0), "0")]
    )
    a, b, c = chart.bars
    assert b.height == pytest.approx(2 * a.height)
    assert c.height == 0
    assert a.y + a.height == b.y + b.height == chart.baseline
    assert bar_chart("t", []).empty


def _query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    return len(queries)


def _grow(n: int, product) -> None:
    for _ in range(n):
        customer = make_customer()
        service = make_active_service(customer, product)
        paid_order(customer, price="30000")
        order = _pending(customer, overdue=15)
        order.items.update(service=service)


@pytest.mark.parametrize(
    "url",
    [
        reverse("reports:dashboard"),
        reverse("reports:aging", args=["d1_30"]),
        reverse("reports:reports") + "?via=",
        reverse("reports:csv", args=["sales_book"]),
        reverse("reports:csv", args=["payments"]),
        reverse("reports:csv", args=["aging"]),
        reverse("reports:csv", args=["balances"]),
        reverse("reports:csv", args=["movements"]),
        reverse("reports:movements"),
    ],
)
def test_query_count_does_not_grow_with_the_rows(url, exports_dir):
    make_provider()
    make_resolution()
    product = make_product()
    client = staff_client("administrator")
    _query_count(client, url)  # the site data (provider, help links) is read once, then kept
    _grow(2, product)
    few = _query_count(client, url)
    _grow(6, product)
    many = _query_count(client, url)
    assert many == few, (url, few, many)


# --- sales book ----------------------------------------------------------------------------


def test_sales_book_totals_equal_the_sum_of_the_documents():
    make_provider()
    make_resolution()
    customers = [make_customer(), make_customer(person_type="juridica", document_type="31")]
    for i, price in enumerate(["45990", "100000", "12345.67", "99999.99"]):
        paid_order(customers[i % 2], price=price)
    today = local_today()
    rows = list(sales.sales_book(date_from=today, date_to=today))
    totals = sales.sales_book_totals(date_from=today, date_to=today)
    assert totals.documents == len(rows) == Invoice.objects.count() == 4
    assert totals.base == sum(r.base for r in rows)
    assert totals.iva == sum(r.iva for r in rows)
    assert totals.rounding == sum(r.rounding for r in rows)
    assert totals.total == sum(r.total for r in rows) == sum(i.total for i in Invoice.objects.all())
    assert totals.total == totals.base + totals.iva + totals.rounding  # withholdings: own column
    company = [r for r in rows if r.buyer_document_type == "31"]
    assert company and all("-" in r.buyer_nit for r in company)  # NIT with its check digit
    assert [r.number for r in rows] == sorted(r.number for r in rows)
    # Another period holds none of them.
    yesterday = today - dt.timedelta(days=1)
    assert sales.sales_book_totals(date_from=yesterday, date_to=yesterday).documents == 0


# --- exports ------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_csv_sales_book_is_streamed_with_every_invoice():
    make_provider()
    make_resolution()
    evil = make_customer(first_name="=HYPERLINK(1)", last_name="x")
    paid_order(evil, price="1000")
    paid_order(make_customer(), price="2000")
    response = staff_client("billing").get(reverse("reports:csv", args=["sales_book"]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert len(rows) == 3
    assert rows[0][0] == "Fecha"
    assert rows[1][11] == str(Invoice.objects.order_by("id").first().total)  # type: ignore[union-attr]
    assert any(cell.startswith("'=HYPERLINK") for cell in rows[1] + rows[2])  # never a formula


def test_csv_payments_filtered_by_gateway_and_method():
    make_provider()
    make_resolution()
    customer = make_customer()
    paid_order(customer, price="1000", via="payu", method="card")
    paid_order(customer, price="2000", via="payvalida", method="cash")
    paid_order(customer, price="3000", via="manual", method="transfer")
    client = staff_client("billing")
    rows = _csv(client.get(reverse("reports:csv", args=["payments"]) + "?via=payvalida"))
    assert len(rows) == 2 and rows[1][4] == "Payvalida" and rows[1][-2] == "payvalida"
    rows = _csv(client.get(reverse("reports:csv", args=["payments"]) + "?method=transfer"))
    # The gateway and method in the user's language; their codes, stable, in the last columns.
    assert rows[0][4:6] == ["Pasarela", "Medio de pago"]
    assert rows[0][-2:] == ["Código de la pasarela", "Código del medio"]
    assert len(rows) == 2 and rows[1][5] == "Transferencia bancaria" and rows[1][-1] == "transfer"
    assert rows[1][4] == "Manual (nuestro equipo)" and rows[1][-2] == "manual"
    assert len(_csv(client.get(reverse("reports:csv", args=["payments"])))) == 4


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_a_period_is_typed_day_first_in_both_languages(settings, language):
    """The browser's date box read the period in the browser's order: in English, 05/11/2026
    was 11 May and 20/11/2026 no date at all. Text boxes, day/month/year."""
    client = staff_client("billing")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    url = reverse("reports:movements")
    page = client.get(url, {"date_from": "05/11/2026", "date_to": "20/11/2026"})
    assert page.status_code == 200
    assert (page.context["filters"].date_from, page.context["filters"].date_to) == (
        dt.date(2026, 11, 5),
        dt.date(2026, 11, 20),
    )
    html = page.content.decode()
    assert 'type="text" name="date_from" value="05/11/2026"' in html
    assert 'type="date"' not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2026-05-10&date_to=2026-05-01", "fecha inicial"),
        ("date_from=not-a-date", "día/mes/año"),
        ("date_from=2020-01-01&date_to=2026-01-01", "732"),
        ("via=bitcoin", "opción válida"),
    ],
)
def test_bad_filters_get_a_clear_message_and_400(query, message):
    client = staff_client("billing")
    for url in (reverse("reports:reports"), reverse("reports:csv", args=["sales_book"])):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400
        assert message in response.content.decode(), url
    response = client.post(
        reverse("reports:xlsx", args=["sales_book"]),
        dict(item.split("=") for item in query.split("&")),
    )
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


def test_unknown_report_is_404():
    client = staff_client("billing")
    assert client.get(reverse("reports:csv", args=["secrets"])).status_code == 404
    assert client.post(reverse("reports:xlsx", args=["secrets"])).status_code == 404


def test_xlsx_is_made_by_the_worker_with_progress_and_then_downloaded(
    exports_dir, django_capture_on_commit_callbacks
):
    make_provider()
    make_resolution()
    customer = make_customer()
    for price in ("1000", "2000", "3000"):
        paid_order(customer, price=price)
    client = staff_client("billing")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:xlsx", args=["sales_book"]), {})
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:export", args=[job.pk])
    assert job.status == ExportStatus.DONE
    assert (job.rows_done, job.rows_total, job.percent) == (3, 3, 100)
    page = client.get(reverse("reports:export", args=[job.pk]))
    assert reverse("reports:download", args=[job.pk]) in page.content.decode()
    download = client.get(reverse("reports:download", args=[job.pk]))
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.getvalue())).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 4
    assert sum(Decimal(str(row[11])) for row in values[1:]) == sum(
        i.total for i in Invoice.objects.all()
    )
    from clientarea.accounts.models import AuditEvent

    assert AuditEvent.objects.filter(action="report_export_requested").count() == 1
    # Support may see reports but not download them.
    assert (
        staff_client("support").get(reverse("reports:download", args=[job.pk])).status_code == 403
    )


def test_a_lost_export_job_is_made_by_the_sweep(exports_dir, django_capture_on_commit_callbacks):
    make_provider()
    customer = make_customer()
    _pending(customer, overdue=40)
    client = staff_client("administrator")
    with django_capture_on_commit_callbacks(execute=False):  # the process died before enqueueing
        client.post(reverse("reports:xlsx", args=["aging"]), {})
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED
    running = client.get(reverse("reports:export", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in running
    assert services.sweep_exports() == 0  # too young: its job may still be on its way
    ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    assert services.sweep_exports() == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.rows_done == 1
    # A job a dead worker left running is taken over once its lease expired.
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.sweep_exports() == 1
    # …but never while another worker's lease runs.
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, lease_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert services.run_export(job_id=job.pk) is False


def test_a_failing_export_is_marked_failed_with_its_reason(exports_dir, monkeypatch):
    from clientarea.reports import exports

    make_provider()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(exports, "write_xlsx", broken)
    job = ExportJob.objects.create(
        kind="balances", params={"date_from": "2026-01-01", "date_to": "2026-01-31"}
    )
    services.run_export(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "disk full" in job.error
    assert not list(exports_dir.glob("*"))  # no half-written file left
    client = staff_client("billing")
    assert client.get(reverse("reports:download", args=[job.pk])).status_code == 404
    assert "disk full" in client.get(reverse("reports:export", args=[job.pk])).content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_produce_the_same_export(exports_dir):
    """The claim is one conditional UPDATE: of two workers racing for a job, one makes it."""
    import threading

    make_provider()
    _pending(make_customer(), overdue=3)
    job = ExportJob.objects.create(
        kind="balances", params={"date_from": "2026-01-01", "date_to": "2026-01-31"}
    )
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(services.run_export(job_id=job.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.rows_done == 1
    assert len(list(exports_dir.glob("*.xlsx"))) == 1


def test_income_covers_exactly_the_last_twelve_bogota_months():
    from clientarea.lib.dates import BOGOTA, add_months

    make_provider()
    make_resolution()
    customer = make_customer()
    first = add_months(local_today().replace(day=1), -11)
    inside = dt.datetime.combine(first, dt.time(0, 30), tzinfo=BOGOTA)  # 05:30 UTC, same day
    before = inside - dt.timedelta(hours=1)  # the last hour of the month before, in Bogotá
    paid_order(customer, price="1000", when=inside)
    paid_order(customer, price="2000", when=before)
    rows = selectors.income_by_month()
    assert [(row.month, row.orders) for row in rows] == [(first, 1)]


def test_chart_labels_are_cut_to_their_bars_so_that_neighbours_never_overlap():
    from clientarea.reports.charts import LABEL_CHAR_WIDTH, WIDTH, bar_chart

    names = ["Servidor VPS 2 vCPU · 4 GB", "Hosting Empresarial", "Correo Corporativo (10)"]
    chart = bar_chart("t", [(names[i % 3], Decimal(i + 1), str(i)) for i in range(9)])
    slot = WIDTH / 9
    for bar in chart.bars:
        assert len(bar.short_label) * LABEL_CHAR_WIDTH <= slot
        assert bar.short_label.endswith("…") and bar.label in names  # the full name stays
    few = bar_chart("t", [("Hosting Pyme", Decimal(1), "1"), ("Dominio .co", Decimal(2), "2")])
    assert [bar.short_label for bar in few.bars] == ["Hosting Pyme", "Dominio .co"]


def test_the_approval_rate_chart_writes_percentages_the_spanish_way(settings):
    from clientarea.payments import services as payments
    from clientarea.payments.models import Payment, PaymentStatus

    make_provider()
    customer = make_customer()
    order = make_order(customer, price="10000")
    payment, _action = payments.start_payment(order=order, customer=customer, gateway_code="payu")
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.APPROVED, method="card")
    client = staff_client("billing")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es-co"
    page = client.get(reverse("reports:dashboard")).content.decode()
    chart = page[page.index('aria-labelledby="rate-title"') :]
    chart = chart[: chart.index("</svg>")]
    assert ">100,0 %<" in chart and "100.0" not in chart


def test_an_abandoned_attempt_is_not_a_decline_in_the_approval_rate(settings):
    """An attempt the customer left at the gateway (replaced by a new one, or run out) is counted
    apart: the rate is approved out of what the gateway decided."""
    from clientarea.payments import services as payments
    from clientarea.payments.models import Payment, PaymentStatus

    make_provider()
    customer = make_customer()

    def attempt(gateway: str, status: str, method: str) -> None:
        order = make_order(customer, price="10000")
        payment, _action = payments.start_payment(
            order=order, customer=customer, gateway_code=gateway
        )
        Payment.objects.filter(pk=payment.pk).update(status=status, method=method)

    attempt("payu", PaymentStatus.APPROVED, "card")
    attempt("payu", PaymentStatus.DECLINED, "card")
    attempt("payu", PaymentStatus.EXPIRED, "card")
    attempt("payu", PaymentStatus.EXPIRED, "cash")  # a voucher nobody paid

    rates = {(r.gateway, r.method): r for r in selectors.approval_rates()}
    payu = rates[("payu", "card")]
    assert (payu.attempts, payu.approved, payu.declined, payu.expired) == (3, 1, 1, 1)
    assert payu.rate == Decimal("50.0")
    assert rates[("payu", "cash")].rate is None

    client = staff_client("billing")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("reports:dashboard")).content.decode()
    chart = page[page.index('aria-labelledby="rate-title"') :]
    chart = chart[: chart.index("</svg>")]
    assert ">50.0 %<" in chart and "0.0 %" not in chart.replace("50.0 %", "")
    table = page[page.index('id="rate-h"') :]
    assert "Expired or abandoned" in table and '<td class="num">—</td>' in table


def test_sales_book_has_the_notes_and_the_withholdings_so_it_ties_to_the_dian_documents(
    django_capture_on_commit_callbacks,
):
    """A withholding agent's invoice, a partial credit note and a debit note on it: each is one
    row with its own DIAN name, the credit note's amounts negative, the invoice's withholdings as
    its XML reports them, and the totals are what the documents add up to."""
    from clientarea.billing import credit_notes, debit_notes
    from clientarea.billing.tests.test_debit_notes import accepted_invoice
    from clientarea.withholdings.models import OrderWithholding
    from clientarea.withholdings.tests.helpers import make_rules

    make_provider()
    make_rules(local_today().year)
    company = make_customer(
        person_type="juridica", document_type="31", document_number="901234567", check_digit="7"
    )
    from clientarea.withholdings.tests.helpers import make_agent

    make_agent(company)
    invoice = accepted_invoice(django_capture_on_commit_callbacks, company, price="850000")
    withheld = sum(w.amount for w in OrderWithholding.objects.filter(order=invoice.order_id))
    assert withheld == Decimal("66436.00")  # 34.000 + 24.225 + 8.211
    with django_capture_on_commit_callbacks(execute=True):
        credit, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="3", reason="Descuento", amount=Decimal("100000")
        )
        debit, _order = debit_notes.issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste", amount=Decimal("20000")
        )
    today = local_today()
    book = list(sales.sales_book(date_from=today, date_to=today))
    # A day's invoices, then its debit notes, then its credit notes.
    assert [r.number for r in book] == [invoice.full_number, debit.full_number, credit.full_number]
    rows = {r.number: r for r in book}
    inv, nc, nd = (rows[str(doc.full_number)] for doc in (invoice, credit, debit))
    assert (inv.document, inv.withholdings, inv.total) == ("invoice", withheld, Decimal("1011500"))
    assert (nc.document, nc.base, nc.iva, nc.total) == (
        "credit_note",
        Decimal("-100000.00"),
        Decimal("-19000.00"),
        Decimal("-119000.00"),
    )
    assert (nd.document, nd.base, nd.iva, nd.total) == (
        "debit_note",
        Decimal("20000.00"),
        Decimal("3800.00"),
        Decimal("23800.00"),
    )
    for note in (nc, nd):
        assert note.reference == invoice.full_number
        assert (note.buyer_document_type, note.buyer_nit) == ("31", "901234567-7")
        assert note.buyer_name == inv.buyer_name and note.withholdings == 0
    totals = sales.sales_book_totals(date_from=today, date_to=today)
    assert totals.documents == 3
    assert totals.withholdings == withheld
    assert totals.total == Decimal("1011500") - Decimal("119000") + Decimal("23800")
    assert totals.total == totals.base + totals.iva + totals.rounding
    assert (totals.base, totals.iva) == (
        sum(r.base for r in rows.values()),
        sum(r.iva for r in rows.values()),
    )
    csv_rows = _csv(staff_client("billing").get(reverse("reports:csv", args=["sales_book"])))
    by_number = {row[2]: row for row in csv_rows[1:]}
    assert by_number[str(credit.full_number)][1] == "Nota crédito electrónica"
    assert by_number[str(credit.full_number)][10:12] == ["0.00", "-119000.00"]  # not -0.00
    assert by_number[str(debit.full_number)][1] == "Nota débito electrónica"
    assert by_number[str(invoice.full_number)][9] == "66436.00"


def test_aging_and_balances_read_what_is_still_owed_and_the_credit_held():
    """A partial payment and account credit lower what a pending order owes: the aging, the
    balances report and the back-office customer page counted the order's whole total, and a
    customer holding credit was missing from "customers with their balance"."""
    from clientarea.backoffice.selectors import customer_360
    from clientarea.billing import ledger

    make_provider()
    ana, beto, carla = make_customer(), make_customer(), make_customer()
    late = _pending(ana, overdue=10, price="100000")  # 119.000
    register_manual_payment(
        details=ManualPaymentDetails(order=late, reference="TRF-1", amount=Decimal("50000")),
        actor=None,
    )
    _pending(beto, overdue=-3, price="10000")  # 11.900, not due yet
    ledger.record_payment(
        customer_id=carla.pk, amount=Decimal("30000"), reference="SAL-1", via="manual"
    )  # credit, no order
    totals = selectors.aging_totals()
    assert totals.buckets["d1_30"] == Decimal("69000.00")
    assert totals.buckets["current"] == Decimal("11900.00")
    owing = {c.pk: c for c in selectors.receivables()}
    assert owing[ana.pk].balance == owing[ana.pk].d1_30 == Decimal("69000")  # type: ignore[attr-defined]
    assert carla.pk not in owing
    rows = {c.pk: c for c in selectors.balances()}
    assert (rows[ana.pk].owed, rows[ana.pk].credit, rows[ana.pk].balance) == (  # type: ignore[attr-defined]
        Decimal("69000"),
        Decimal("0"),
        Decimal("69000"),
    )
    assert (rows[carla.pk].owed, rows[carla.pk].credit, rows[carla.pk].balance) == (  # type: ignore[attr-defined]
        Decimal("0"),
        Decimal("30000"),
        Decimal("-30000"),
    )
    csv_rows = _csv(staff_client("billing").get(reverse("reports:csv", args=["balances"])))
    assert len(csv_rows) == 4  # the header, ana, beto and carla (who is owed)
    assert [row[4:] for row in csv_rows[1:] if row[0] == carla.document_number] == [
        ["0.00", "30000.00", "-30000.00"]
    ]
    data = customer_360(ana.pk)
    assert data is not None
    assert (data.balance.due, data.balance.overdue) == (Decimal("69000.00"), Decimal("69000.00"))


def test_payments_report_says_what_was_received_paid_with_credit_or_withheld():
    """The payments export gave each paid order's total as its amount: a withholding agent's
    transfer of 945.064 read 1.011.500, and an order paid with credit read as money received."""
    from clientarea.billing import ledger
    from clientarea.withholdings.tests.helpers import make_agent, make_rules

    make_provider()
    make_resolution()
    make_rules(local_today().year)
    company = make_customer(
        person_type="juridica", document_type="31", document_number="901234567", check_digit="7"
    )
    make_agent(company)
    agent_order = make_order(company, price="850000")
    register_manual_payment(
        details=ManualPaymentDetails(order=agent_order, reference="TRF-1"), actor=None
    )
    ana = make_customer()
    credit_order = make_order(ana, price="10000")  # 11.900
    ledger.record_payment(
        customer_id=ana.pk, amount=Decimal("11900"), reference="SAL-1", via="payu"
    )
    credit_order.refresh_from_db()
    assert credit_order.state == OrderState.PAID
    rows = _csv(staff_client("billing").get(reverse("reports:csv", args=["payments"])))
    assert rows[0][-6:-2] == [
        "Valor",
        "Recibido",
        "Pagado con saldo a favor",
        "Retenido por el cliente",
    ]
    by_order = {row[1]: row[-6:-2] for row in rows[1:]}
    assert by_order[agent_order.number] == ["1011500.00", "945064.00", "0.00", "66436.00"]
    assert by_order[credit_order.number] == ["11900.00", "0.00", "11900.00", "0.00"]


def test_the_back_office_dashboard_is_not_called_home_in_spanish():
    """The staff dashboard's breadcrumb read "Inicio › Inicio" in Spanish: "Dashboard" is the
    client area's home ("Inicio") there; in the back office it is the "Panel"."""
    client = staff_client("billing")
    for name in ("reports:dashboard", "reports:reports"):
        page = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="es-co").content.decode()
        crumbs = page.split('class="breadcrumbs"', 1)[1].split("</div>", 1)[0]
        assert f'{reverse("reports:dashboard")}">Panel</a>' in crumbs, name
        assert crumbs.count(">Inicio</a>") == 1, name
