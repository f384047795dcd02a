"""The customer's Billing pages: list, detail, printable version, and isolation between customers."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from clientarea.billing import services
from clientarea.billing.tests import (
    aware,
    make_active_service,
    make_order,
    make_product,
    make_renewal_order,
)
from clientarea.lib.dates import local_today
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    """Pages in English (the msgids), whatever translations are compiled."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def cast():
    make_provider()
    alice = make_customer(
        "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
    )
    bob = make_customer("bob@example.com", first_name="Bob")
    return alice, bob


@pytest.fixture
def three_states(cast):
    """alice has one pending (overdue), one paid and one cancelled order."""
    alice, _ = cast
    hosting = make_product("hosting-pyme", prices={"monthly": "100000"})
    today = local_today()
    pending = make_order(
        alice,
        price="100000",
        issue_date=today - dt.timedelta(days=20),
        due_date=today - dt.timedelta(days=1),
    )
    paid = make_renewal_order(make_active_service(alice, hosting, start=dt.date(2026, 1, 15)))
    services.mark_order_paid(order_id=paid.pk, paid_at=aware(2026, 2, 10), via="payu", method="pse")
    cancelled = services.order_new_service(
        customer=alice, product=hosting, cycle="monthly", label="alice.co"
    )
    services.cancel_order(order=cancelled, reason="Duplicated order")
    return pending, paid, cancelled


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_billing_page_needs_a_login(client):
    response = client.get(reverse("billing:orders"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_billing_page_shows_every_state_with_its_text(client, cast, three_states):
    pending, paid, cancelled = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:orders")))
    assert 'class="badge badge-pending">Pending<' in page
    assert 'class="badge badge-paid">Paid<' in page
    assert 'class="badge badge-cancelled">Cancelled<' in page
    assert "$ 119.000" in page  # 100.000 + 19% IVA
    # newest first: issue dates descending
    numbers = re.findall(r'data-number="(ODS-\d+)"', page)
    assert set(numbers) == {pending.number, paid.number, cancelled.number}
    assert numbers[-1] == paid.number  # issued on Jan 31 (15 days before the Feb 15 due date)


def test_an_overdue_order_says_so_in_words(client, cast, three_states):
    pending, *_ = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:orders")))
    row = re.search(
        rf'<tr class="order-row[^"]*is-overdue[^"]*" data-number="{pending.number}">.*?</tr>',
        page,
        re.S,
    )
    assert row and 'class="overdue"' in row.group(0) and "Overdue" in row.group(0)
    assert page.count("is-overdue") == 1


def test_an_order_due_today_is_not_overdue(client, cast):
    alice, _ = cast
    make_order(alice, due_date=local_today())
    client.force_login(alice.user)
    assert "is-overdue" not in html(client.get(reverse("billing:orders")))


def test_the_state_filter_marks_the_current_link(client, cast, three_states):
    pending, paid, cancelled = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:orders") + "?state=paid"))
    assert paid.number in page and pending.number not in page and cancelled.number not in page
    assert re.search(r'href="/clientarea/billing/\?state=paid" aria-current="true"', page)
    assert page.count('aria-current="true"') == 1
    all_page = html(
        client.get(reverse("billing:orders") + "?state=bogus")
    )  # unknown filter: all orders
    assert all(o.number in all_page for o in three_states)
    assert re.search(r'href="/clientarea/billing/" aria-current="true"', all_page)


def test_the_list_is_paginated_by_25(client, cast):
    alice, _ = cast
    for _ in range(27):
        make_order(alice)
    client.force_login(alice.user)
    first = html(client.get(reverse("billing:orders")))
    assert first.count('class="order-row') == 25 and "Page 1 of 2" in first
    second = html(client.get(reverse("billing:orders") + "?page=2"))
    assert second.count('class="order-row') == 2
    assert (
        client.get(reverse("billing:orders") + "?page=99").status_code == 200
    )  # out of range: last page


def test_the_empty_billing_page_says_what_appears_there(client, cast):
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:orders")))
    assert (
        'class="empty"' in page
        and "one when you order a new service and one before each renewal" in page
    )
    pending = html(client.get(reverse("billing:orders") + "?state=pending"))
    assert "You have no pending service orders" in pending


def test_a_pending_order_has_pay_now_at_the_top(client, cast, three_states):
    pending, *_ = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:order", args=[pending.number])))
    pay_now = re.search(r'<a class="btn btn-pay" id="pay-now" href="([^"]+)">', page)
    assert pay_now and pay_now.group(1).endswith(f"/{pending.number}/")
    assert page.index('id="pay-now"') < page.index("<h2>")  # before the parties and items
    assert (
        "Item 1" in page
        and "$ 100.000" in page
        and "$ 19.000" in page
        and "$ 119.000" in page
        and "19%" in page
    )


def test_paid_and_cancelled_orders_have_no_pay_now(client, cast, three_states):
    _, paid, cancelled = three_states
    client.force_login(cast[0].user)
    paid_page = html(client.get(reverse("billing:order", args=[paid.number])))
    assert 'id="pay-now"' not in paid_page
    assert re.search(r"Paid on 10 Feb 2026 via PayU Latam \(PSE\)", paid_page)
    cancelled_page = html(client.get(reverse("billing:order", args=[cancelled.number])))
    assert 'id="pay-now"' not in cancelled_page and "Duplicated order" in cancelled_page


def test_the_order_shows_the_parties_as_they_were_at_issue(client, cast):
    alice, _ = cast
    order = make_order(alice)
    alice.first_name, alice.address = "Alicia", "Nueva dirección 99"
    alice.save()
    client.force_login(alice.user)
    page = html(client.get(reverse("billing:order", args=[order.number])))
    assert "Alice Gómez" in page and "Carrera 7 # 12-34" in page
    assert "Alicia" not in page and "Nueva dirección" not in page
    assert (
        "Conexcol S.A.S." in page
        and "NIT 900123456-8" in page
        and "Cédula de ciudadanía 1020304050" in page
    )


def test_the_order_history_lists_its_events(client, cast, three_states):
    _, paid, cancelled = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:order", args=[paid.number])))
    assert "Order issued" in page and "Payment received" in page
    assert "Order cancelled: Duplicated order" in html(
        client.get(reverse("billing:order", args=[cancelled.number]))
    )


def test_the_printable_version_is_a_clean_service_order(client, cast, three_states):
    pending, *_ = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:order_print", args=[pending.number])))
    # Its print styles are a static file (the Content-Security-Policy blocks inline <style>).
    assert 'href="/static/billing/order_print.css"' in page
    print_css_path = finders.find("billing/order_print.css")
    assert isinstance(print_css_path, str)
    print_css = Path(print_css_path).read_text()
    assert "Not a tax invoice" in page and "@media print" in print_css  # one language (issue 11.14)
    assert "side-nav" not in page and 'id="pay-now"' not in page
    assert "Conexcol" in page and pending.number in page
    assert reverse("billing:order_print", args=[pending.number]) in html(
        client.get(reverse("billing:order", args=[pending.number]))
    )


def test_a_customer_cannot_open_another_customers_order(client, cast, three_states):
    pending, paid, _ = three_states
    _, bob = cast
    client.force_login(bob.user)
    for order in (pending, paid):
        assert client.get(reverse("billing:order", args=[order.number])).status_code == 404
        assert client.get(reverse("billing:order_print", args=[order.number])).status_code == 404
    assert pending.number not in html(client.get(reverse("billing:orders")))


def test_an_unknown_order_number_is_404(client, cast):
    client.force_login(cast[0].user)
    assert client.get(reverse("billing:order", args=["ODS-999999"])).status_code == 404
    assert client.get("/clientarea/billing/not-a-number/").status_code == 404


def test_staff_without_a_customer_profile_get_404_not_500(client, cast):
    client.force_login(make_staff())
    assert client.get(reverse("billing:orders")).status_code == 404


def test_the_dashboard_summarises_pending_orders(cast, three_states):
    from clientarea.portal.dashboard import dashboard_context

    context = dashboard_context(cast[0])
    assert context["pending_orders"] is True and context["pending_orders_count"] == 1
    assert context["pending_total"] == three_states[0].total
    assert context["overdue_orders_count"] == 1
    assert context["services_count"] == 1 and context["active_services_count"] == 1
    assert context["next_due"] == dt.date(2026, 3, 15)
    empty = dashboard_context(cast[1])
    assert (
        empty["pending_orders"],
        empty["pending_orders_count"],
        empty["services_count"],
        empty["next_due"],
    ) == (False, 0, 0, None)


# --- Dates that agree, and the total due (issue 11, item 10) ------------------------------------


def _day(date: dt.date) -> str:
    return f"{date.day} {date:%b %Y}"


def test_the_history_dates_the_issue_like_the_order_does(client, cast):
    alice, _ = cast
    today = local_today()
    issued = today - dt.timedelta(days=27)
    order = make_order(alice, issue_date=issued, due_date=today + dt.timedelta(days=3))
    client.force_login(alice.user)
    page = html(client.get(reverse("billing:order", args=[order.number])))
    assert f"<strong>{_day(issued)}</strong>" in page  # Issued: …
    entry = re.search(r'<ul class="history">\s*<li>(.*?)</li>', page, re.S)
    assert entry and "Order issued" in entry.group(1)
    assert _day(issued) in entry.group(1) and _day(today) not in entry.group(1)


def test_an_overdue_order_says_since_when_and_how_many_days(client, cast, three_states):
    pending, *_ = three_states  # due yesterday
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:order", args=[pending.number])))
    due = _day(pending.due_date)
    note = re.search(r'<p id="order-due-note">(.*?)</p>', page, re.S)
    assert note and f"overdue since {due} (1 day)" in note.group(1)
    assert "to pay by" not in note.group(1)
    assert "Overdue by 1 day" in page


def test_a_pending_order_not_yet_due_says_pay_by(client, cast):
    alice, _ = cast
    due = local_today() + dt.timedelta(days=4)
    order = make_order(alice, due_date=due)
    client.force_login(alice.user)
    page = html(client.get(reverse("billing:order", args=[order.number])))
    assert f"$ 119.000 to pay by {_day(due)}" in page and "overdue since" not in page


def test_the_billing_page_shows_the_total_due_with_the_overdue_part(client, cast, three_states):
    alice, _ = cast
    make_order(alice, price="50000", due_date=local_today() + dt.timedelta(days=5))
    client.force_login(alice.user)
    page = html(client.get(reverse("billing:orders")))
    box = re.search(r'<section class="total-due".*?</section>', page, re.S)
    # 119.000 overdue (yesterday) + 59.500 not yet due; the paid and cancelled orders do not count.
    assert box and "Total due: <strong>$ 178.500</strong>" in box.group(0)
    assert re.search(r'class="overdue">\$ 119\.000 of it is overdue \(1 order\)', box.group(0))
    assert page.index('id="total-due"') < page.index('class="table orders"')


def test_nothing_due_shows_no_total(client, cast):
    alice, _ = cast
    client.force_login(alice.user)
    assert 'id="total-due"' not in html(client.get(reverse("billing:orders")))


def test_the_history_dates_the_payment_like_the_order_does(client, cast, three_states):
    _, paid, _ = three_states  # paid on 10 Feb 2026 (recorded now)
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:order", args=[paid.number])))
    assert "Paid on 10 Feb 2026" in page
    entry = re.search(r"<li>([^<]*<time[^>]*>[^<]*</time> · Payment received[^<]*)</li>", page)
    assert entry and "10 Feb 2026 12:00" in entry.group(1)


def test_an_order_number_in_a_heading_never_breaks_at_its_hyphen(client, cast, three_states):
    """On a phone "Service order ODS-000001" wrapped as "ODS-" / "000001": the number sits in a
    nowrap span in the order's heading and in the Pay page's heading."""
    pending, *_ = three_states
    client.force_login(cast[0].user)
    kept = f'<span class="nowrap">{pending.number}</span>'
    for url in (
        reverse("billing:order", args=[pending.number]),
        reverse("payments:choose", args=[pending.number]),
    ):
        h1 = re.search(r"<h1>(.*?)</h1>", html(client.get(url)), re.S)
        assert h1 and kept in h1.group(1), (url, h1 and h1.group(1))


def test_the_billing_columns_read_naturally_in_english_and_spanish(
    client, cast, three_states, settings
):
    pending, *_ = three_states
    client.force_login(cast[0].user)
    page = html(client.get(reverse("billing:orders")))
    assert '<th scope="col">Description</th>' in page and '<th scope="col">Status</th>' in page
    assert 'data-label="Description"' in page and 'data-label="Status"' in page
    assert ">Concept<" not in page and ">State<" not in page
    printed = html(client.get(reverse("billing:order_print", args=[pending.number])))
    assert "Status: Pending" in printed and "State:" not in printed
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = html(client.get(reverse("billing:orders")))
    assert '<th scope="col">Concepto</th>' in page and '<th scope="col">Estado</th>' in page
    assert 'data-label="Concepto"' in page and 'data-label="Estado"' in page
    printed = html(client.get(reverse("billing:order_print", args=[pending.number])))
    assert "Estado: Pendiente" in printed
