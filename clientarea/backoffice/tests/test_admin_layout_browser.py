"""Real browser, the demo at 1280 px as a billing clerk sees it: amounts on one line in the admin's
lists, the "Go back" button beside the submit button it goes with, a custom order's lines and the
periodic job runs' columns in view."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from clientarea.accounts.models import Customer
from clientarea.billing.models import Order, OrderState
from clientarea.lib.admin import periodic_job_labels
from clientarea.lib.models import PeriodicRun
from clientarea.test import staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Cells of a table whose amount ("$ 1.011.500") runs over more than one line.
SPLIT_AMOUNTS = """() => Array.from(document.querySelectorAll('#content td'))
    .filter(td => /^-?\\$\\s/.test(td.textContent.trim()))
    .filter(td => { const range = document.createRange(); range.selectNodeContents(td);
                    return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1; })
    .map(td => td.className + ' ' + td.textContent.trim())"""

# The submit button and the "Go back" link of a form: the vertical middle of the button, of the
# link's box and of the link's text (an input centres its text; the link had it at its top).
SUBMIT_ROW = """() => {
    const button = document.querySelector('.submit-row input[type=submit]');
    const link = document.querySelector('.submit-row a.cancel-link');
    if (!button || !link) return null;
    const middle = r => Math.round(r.top + r.height / 2);
    const range = document.createRange(); range.selectNodeContents(link);
    return [middle(button.getBoundingClientRect()), middle(link.getBoundingClientRect()),
            middle(range.getBoundingClientRect())];
}"""


@pytest.fixture
def clerk(browser, live_site):
    call_command("demo_data", stdout=io.StringIO())
    context = browser.new_context(locale="es-CO", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15000)
    page = context.new_page()
    staff_log_in(page, live_site.url)
    yield page
    context.close()


def test_a_billing_clerk_sees_whole_amounts_and_aligned_buttons(clerk, live_site):
    """The order list split the total after its "$"; "Volver" was a small box, lower than
    "Registrar el pago" beside it; the custom order's "Periodo hasta" was out of view."""
    andina = Customer.objects.get(user__email="compras@tiendaandina.example")
    pending = Order.objects.filter(customer=andina, state=OrderState.PENDING).first()
    assert pending is not None
    problems = {}
    clerk.goto(live_site.url + "/admin/billing/order/")
    if split := clerk.evaluate(SPLIT_AMOUNTS):
        problems["order list"] = split
    for name, path in (
        ("payment form", f"/admin/billing/order/{pending.pk}/pay/"),
        ("new order", f"/backoffice/customers/{andina.pk}/orders/new/"),
    ):
        clerk.goto(live_site.url + path)
        middles = clerk.evaluate(SUBMIT_ROW)
        if not middles or max(middles) - min(middles) > 2:
            problems[name] = middles
    # The customer page's actions: "Nueva orden" was a small link beside the tall form buttons.
    clerk.goto(live_site.url + f"/backoffice/customers/{andina.pk}/")
    heights = clerk.evaluate(
        "() => Array.from(document.querySelectorAll('.bo-actions .button, .bo-actions input[type=submit]'))"
        ".map(e => Math.round(e.getBoundingClientRect().height))"
    )
    if len(heights) < 4 or max(heights) - min(heights) > 1:
        problems["customer actions"] = heights
    clerk.goto(live_site.url + f"/backoffice/customers/{andina.pk}/orders/new/")
    wrap = clerk.evaluate(
        "() => { const e = document.querySelector('.bo-table-wrap'); return [e.scrollWidth, e.clientWidth]; }"
    )
    if wrap[0] > wrap[1]:
        problems["new order lines"] = wrap
    # Periodic job runs: the job's dotted path under its name pushed "Fin" out of view.
    now = timezone.now()
    for task in periodic_job_labels():
        PeriodicRun.objects.create(task=task, slot=now, claimed_by="vm:1", started_at=now)
    clerk.goto(live_site.url + "/admin/lib/periodicrun/")
    table = clerk.evaluate(
        "() => { const e = document.querySelector('#changelist .results'); return [e.scrollWidth, e.clientWidth]; }"
    )
    if table[0] > table[1]:
        problems["periodic job runs"] = table
    assert problems == {}


@pytest.mark.parametrize(("locale", "cookie"), [("es-CO", "es-co"), ("en", "en")])
def test_the_audit_log_fits_1366_px_and_reads_its_actions_in_words(
    browser, live_site, locale, cookie
):
    """The audit list was wider than its box at 1366 px: the customer column cut off, a
    sideways scroll (a long date, the customer as "name <email>", whole emails)."""
    from clientarea.accounts import audit

    call_command("demo_data", stdout=io.StringIO())
    andina = Customer.objects.get(user__email="compras@tiendaandina.example")
    audit.record(
        action="customer.einvoice_email_changed",
        actor=andina.user,
        customer=andina,
        target="facturacion.electronica.proveedores@tiendaandina.example",
    )
    context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
    context.add_cookies([{"name": "django_language", "value": cookie, "url": live_site.url}])
    page = context.new_page()
    staff_log_in(page, live_site.url)
    page.goto(live_site.url + "/admin/accounts/auditevent/")
    table = page.evaluate(
        "() => { const e = document.querySelector('#changelist .results'); return [e.scrollWidth, e.clientWidth]; }"
    )
    first_row = page.locator("#result_list tbody tr").first.inner_text()
    context.close()
    assert table[0] <= table[1], table
    assert "customer.einvoice_email_changed" in first_row
    assert (
        "Correo de facturas electrónicas modificado"
        if cookie == "es-co"
        else "Electronic invoice email changed"
    ) in first_row
