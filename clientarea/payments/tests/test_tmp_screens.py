import pytest
from unittest import mock
from clientarea.test import make_provider, make_customer, ACCESS_CODE
from clientarea.payments.tests.helpers import make_renewal_order
from clientarea.payments.models import Payment, PaymentStatus

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_screens(page, live_site, settings):
    make_provider()
    c = make_customer("shot@example.com", first_name="Ana", last_name="Restrepo")
    order, service = make_renewal_order(c)
    from django.test import Client
    cl = Client(); cl.force_login(c.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    page.context.add_cookies([{"name": "sessionid", "value": cl.cookies["sessionid"].value, "url": live_site.url}])
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.screenshot(path="/tmp/shot_choose.png", full_page=True)
    from clientarea.payments import services
    p, _ = services.start_payment(order=order, customer=c, gateway_code="payu", method="cash", language="es")
    Payment.objects.filter(pk=p.pk).update(status=PaymentStatus.PENDING, method="cash", instructions={"voucher_reference": "98765432", "network": "EFECTY", "checkout_url": "http://example.com/v"})
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.screenshot(path="/tmp/shot_choose_inprocess.png", full_page=True)
    page.goto(live_site.url + f"/payments/result/{p.reference}/")
    page.screenshot(path="/tmp/shot_result_pending.png", full_page=True)
