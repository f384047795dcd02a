import pytest
from clientarea.test import make_provider, make_customer
from clientarea.payments.tests.helpers import make_renewal_order, renewals
from clientarea.payments.models import Payment, PaymentMessage

def login(page, live_site, c):
    from django.test import Client
    cl = Client(); cl.force_login(c.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    page.context.add_cookies([{"name": "sessionid", "value": cl.cookies["sessionid"].value, "url": live_site.url}])

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_card(page, live_site, gateway):
    make_provider()
    c = make_customer("e2e@example.com", first_name="Ana", last_name="Restrepo")
    order, service = make_renewal_order(c)
    login(page, live_site, c)
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.click(f"#method-{gateway}-card")
    page.click(f"#gateway-{gateway}")
    page.wait_for_load_state()
    print("at", page.url)
    page.fill("input[name=card_holder]", "APPROVED")
    page.fill("input[name=card_number]", "4111111111111111")
    page.fill("input[name=card_expiry]", "12/30")
    page.fill("input[name=card_cvv]", "123")
    page.click("text=Pay with card")
    page.wait_for_load_state()
    print("after card", page.url)
    page.screenshot(path=f"/tmp/e2e_{gateway}_1.png", full_page=True)
    # back to merchant
    links = page.locator("a", has_text="merchant")
    if links.count():
        links.first.click()
    else:
        btn = page.locator("a, button").filter(has_text="Return")
        if btn.count(): btn.first.click()
    page.wait_for_load_state()
    print("back", page.url)
    page.wait_for_selector("#payment-status")
    page.screenshot(path=f"/tmp/e2e_{gateway}_2.png", full_page=True)
    print("status", page.get_attribute("#payment-status", "data-status"))
    order.refresh_from_db()
    print("order", order.state, "renewals", renewals(service))
    print(list(PaymentMessage.objects.values_list("kind", "outcome")))
    assert order.state == "paid"
    assert page.get_attribute("#payment-status", "data-status") == "approved"

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_cash(page, live_site, gateway):
    make_provider()
    c = make_customer("e2e@example.com", first_name="Ana", last_name="Restrepo")
    order, service = make_renewal_order(c)
    login(page, live_site, c)
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.click(f"#method-{gateway}-cash")
    page.click(f"#gateway-{gateway}")
    page.wait_for_load_state()
    page.click("text=Generate payment voucher")
    page.wait_for_load_state()
    print("voucher page", page.url)
    ref = page.text_content("[data-testid=voucher-reference]")
    page.screenshot(path=f"/tmp/e2e_{gateway}_cash1.png", full_page=True)
    back = page.locator("a").filter(has_text="merchant")
    print("links", [page.locator("a").nth(i).text_content() for i in range(page.locator("a").count())])
    back.first.click()
    page.wait_for_selector("#payment-status")
    print("status after return", page.get_attribute("#payment-status", "data-status"), page.url)
    p = Payment.objects.get()
    print("payment", p.status, p.method, p.instructions)
    page.screenshot(path=f"/tmp/e2e_{gateway}_cash2.png", full_page=True)
    print(list(PaymentMessage.objects.values_list("kind", "outcome")))

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_cash_paid_and_pse(page, live_site, gateway):
    make_provider()
    c = make_customer("e2e@example.com", first_name="Ana", last_name="Restrepo")
    order, service = make_renewal_order(c)
    login(page, live_site, c)
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.click(f"#method-{gateway}-cash")
    page.click(f"#gateway-{gateway}")
    page.wait_for_load_state()
    page.click("text=Generate payment voucher")
    ref = page.text_content("[data-testid=voucher-reference]").strip()
    page.click("text=Go to the cash point (tester)")
    page.fill("input[name=reference]", ref)
    page.click("text=Pay voucher")
    page.wait_for_selector("[data-testid=cash-point-result]")
    order.refresh_from_db()
    print(gateway, "cash: order", order.state, renewals(service), list(PaymentMessage.objects.values_list("kind", "outcome")))
    page.goto(live_site.url + f"/payments/result/{Payment.objects.get().reference}/")
    print("status", page.get_attribute("#payment-status", "data-status"))
    # PSE on a second order, left pending at the bank
    order2, service2 = make_renewal_order(c)
    page.goto(live_site.url + f"/payments/pay/{order2.number}/")
    page.click(f"#method-{gateway}-pse")
    page.click(f"#gateway-{gateway}")
    page.wait_for_load_state()
    page.select_option("select[name=bank]", index=1)
    page.fill("input[name=document_number]", "1020304050")
    page.click("text=Continue to your bank")
    page.wait_for_load_state()
    bank_url = page.url
    page.click("text=Leave pending")
    page.wait_for_load_state()
    print("after pending", page.url)
    link = page.locator("a").filter(has_text="merchant")
    if link.count():
        link.first.click()
        page.wait_for_selector("#payment-status")
        print("pse status", page.get_attribute("#payment-status", "data-status"))
        page.screenshot(path=f"/tmp/e2e_{gateway}_pse.png", full_page=True)
    p2 = Payment.objects.get(order=order2)
    print("pse payment", p2.status, p2.method, p2.instructions)
    page.goto(bank_url)
    page.click("text=Approve payment")
    order2.refresh_from_db()
    print("pse approved: order", order2.state, renewals(service2))
