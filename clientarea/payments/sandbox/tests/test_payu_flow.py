"""The PayU simulator end to end through its URLs: form, checkout, PSE, cash, confirmations, Queries API."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest
from django.urls import reverse
from django.utils import timezone

from clientarea.lib.http import HttpError, HttpResponse
from clientarea.payments.sandbox.expiry import expire_vouchers
from clientarea.payments.sandbox.models import (
    NotificationStatus,
    SandboxDelivery,
    SandboxNotification,
    SandboxPayUOrder,
    SandboxPayUTransaction,
)
from clientarea.test import make_staff

from .conftest import API_KEY, confirmation_new_value, payu_form, payu_sign, run_retries

pytestmark = pytest.mark.django_db

GATEWAY = "/sandbox/payu/ppp-web-gateway-payu/"
CARD_OK = {
    "card_holder": "Alice Gomez",
    "card_number": "4111 1111 1111 1111",
    "card_expiry": "12/39",
    "card_cvv": "123",
    "installments": "1",
}
CARD_DECLINED = {**CARD_OK, "card_number": "4000000000000002"}
PSE = {"person_type": "N", "document_type": "CC", "document_number": "1020304050", "bank": "1022"}


def submit(client, form):
    return client.post(GATEWAY, form)


def start(client, algorithm: str | None = None, **overrides) -> SandboxPayUOrder:
    form = payu_form(algorithm, **overrides)
    response = submit(client, form)
    assert response.status_code == 303, response.content[-1500:]
    order = SandboxPayUOrder.objects.get(reference_code=form["referenceCode"])
    assert response["Location"] == f"/sandbox/payu/checkout/{order.checkout_token}/"
    return order


def test_the_checkout_showing_the_buyer_is_reached_only_by_an_unguessable_token(client) -> None:
    """Issue 11.7: PayU's order id is sequential; the checkout (buyer's email) must not use it."""
    order = start(client)
    other = start(client)
    page = client.get(f"/sandbox/payu/checkout/{order.checkout_token}/").content.decode()
    assert "alice@example.com" in page
    for action in ("", "card/", "pse/", "cash/"):
        guessed = f"/sandbox/payu/checkout/{order.payu_order_id}/{action}"
        response = client.post(guessed, CARD_OK) if action else client.get(guessed)
        assert response.status_code == 404, guessed
    assert len(order.checkout_token) >= 32 and order.checkout_token != other.checkout_token
    assert str(order.payu_order_id) not in order.checkout_token


def test_the_dashboard_and_its_actions_are_for_staff_only(client, commit) -> None:
    """The dashboard links every checkout: open to all, it would undo the checkout's token."""
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"})
    tx = order.transactions.get()
    page = client.get("/sandbox/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")
    for action in (
        "/sandbox/expire/",
        f"/sandbox/payu/voucher/{tx.transaction_id}/expire/",
        "/sandbox/notifications/1/resend/",
    ):
        assert client.post(action).status_code == 302, action
    tx.refresh_from_db()
    assert tx.state == "PENDING"
    client.force_login(make_staff())
    staff_page = client.get("/sandbox/").content.decode()
    assert order.checkout_token in staff_page


def response_query(response) -> dict[str, str]:
    return dict(
        urllib.parse.parse_qsl(
            urllib.parse.urlsplit(response["Location"]).query, keep_blank_values=True
        )
    )


def expected_confirmation_sign(
    fields: dict[str, str], algorithm: str = "MD5", key: str = API_KEY
) -> str:
    base = "~".join(
        [
            API_KEY,
            fields["merchant_id"],
            fields["reference_sale"],
            confirmation_new_value(fields["value"]),
            fields["currency"],
            fields["state_pol"],
        ]
    )
    return payu_sign(base, algorithm, key)


def expected_response_signature(
    params: dict[str, str], algorithm: str = "MD5", key: str = API_KEY
) -> str:
    from decimal import ROUND_HALF_EVEN, Decimal

    new_value = f"{Decimal(params['TX_VALUE']).quantize(Decimal('0.1'), ROUND_HALF_EVEN):.1f}"
    base = "~".join(
        [
            API_KEY,
            params["merchantId"],
            params["referenceCode"],
            new_value,
            params["currency"],
            params["transactionState"],
        ]
    )
    return payu_sign(base, algorithm, key)


# --- The form ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [None, "MD5", "SHA", "SHA256", "HMAC-SHA256"])
def test_form_with_a_good_signature_opens_the_checkout(client, algorithm):
    form = payu_form(algorithm)
    response = submit(client, form)
    assert response.status_code == 303
    order = SandboxPayUOrder.objects.get(reference_code=form["referenceCode"])
    assert order.amount == "119000" and order.state == "NEW" and order.test
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "SIMULADOR" in html and "Simulador: aquí no se mueve dinero real" in html
    assert (
        "Pagar con tarjeta" in html
        and "Continuar a su banco" in html
        and "Generar recibo de pago" in html
    )


def test_payment_methods_restrict_the_checkout_and_are_signed(client):
    # Only PSE enabled and preselected: the checkout offers PSE alone, marked preselected.
    form = payu_form(paymentMethods="PSE", selectedPaymentMethod="PSE")
    response = submit(client, form)
    assert response.status_code == 303
    html = client.get(response["Location"]).content.decode()
    assert "Continuar a su banco" in html
    assert "Pagar con tarjeta" not in html and "Generar recibo de pago" not in html
    assert 'aria-labelledby="pay-pse" aria-current="true"' in html
    # Cash networks only: no card, no PSE.
    form = payu_form(paymentMethods="EFECTY,OTHERS_CASH,BALOTO")
    html = client.get(submit(client, form)["Location"]).content.decode()
    assert "Generar recibo de pago" in html
    assert "Pagar con tarjeta" not in html and "Continuar a su banco" not in html


def test_payment_methods_left_out_of_the_signature_are_refused(client):
    base = payu_form(referenceCode="TestUnsignedMethods")
    form = {**base, "paymentMethods": "PSE"}  # signed without ~PSE
    response = submit(client, form)
    assert response.status_code == 200
    assert "order_not_processed_by_sign" in response.content.decode()
    # Empty iin/pseBanks segments are not PayU's reading either.
    form = payu_form(referenceCode="TestEmptySegments", paymentMethods="PSE")
    parts = [API_KEY, "508029", "TestEmptySegments", "119000", "COP", "PSE", "", ""]
    form["signature"] = payu_sign("~".join(parts))
    assert "order_not_processed_by_sign" in submit(client, form).content.decode()


def test_selected_payment_method_preselects_without_restricting(client):
    order = start(client, selectedPaymentMethod="PSE")
    assert order.selected_payment_method == "PSE"
    html = client.get(f"/sandbox/payu/checkout/{order.checkout_token}/").content.decode()
    assert 'aria-labelledby="pay-pse" aria-current="true"' in html
    assert "Pagar con tarjeta" in html and "Generar recibo de pago" in html
    assert html.count('aria-current="true"') == 1


def test_hmac_uses_the_secret_key_when_configured(client, settings):
    settings.PAYU_SECRET_KEY = "secret123"
    form = payu_form("HMAC-SHA256")  # signed with the API key as HMAC key: wrong now
    assert submit(client, form).status_code == 200
    form = payu_form("HMAC-SHA256", referenceCode="TestHmacSecret")
    base = "~".join([API_KEY, "508029", "TestHmacSecret", "119000", "COP"])
    form["signature"] = payu_sign(base, "HMAC-SHA256", "secret123")
    assert submit(client, form).status_code == 303


def test_payu_documented_form_example_is_accepted(client):
    # payment-form.html example: 508029 / TestPayU / 20000 / COP, MD5 7ee7cf808ce6a39b17481c54f2c57acc.
    form = {
        "merchantId": "508029",
        "accountId": "512321",
        "description": "Test PAYU",
        "referenceCode": "TestPayU",
        "amount": "20000",
        "tax": "3193",
        "taxReturnBase": "16806",
        "currency": "COP",
        "signature": "7ee7cf808ce6a39b17481c54f2c57acc",
        "test": "0",
        "buyerEmail": "test@test.com",
        "responseUrl": "http://www.test.com/response",
        "confirmationUrl": "http://www.test.com/confirmation",
    }
    assert submit(client, form).status_code == 303


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"signature": "0" * 32}, "order_not_processed_by_sign"),
        ({"merchantId": "999999"}, "merchant_not_found"),
        ({"accountId": "1"}, "account_not_found"),
        ({"amount": "119000.001"}, "invalid_amount"),
        ({"tax": "20000", "taxReturnBase": "100000"}, "invalid_tax"),
        ({"currency": "EUR"}, "invalid_currency"),
        ({"buyerEmail": "not-an-email"}, "invalid_buyer_email"),
        ({"algorithmSignature": "SHA512"}, "invalid_algorithm"),
        ({"confirmationUrl": "ftp://x/y"}, "invalid_url"),
        ({"buyerEmail": ""}, "missing_parameter"),
    ],
)
def test_refused_forms_get_a_payu_like_error_page(client, overrides, code):
    form = payu_form()
    form.update(overrides)
    if "amount" in overrides or "currency" in overrides or "merchantId" in overrides:
        base = "~".join(
            [API_KEY, form["merchantId"], form["referenceCode"], form["amount"], form["currency"]]
        )
        form["signature"] = payu_sign(base)
    response = submit(client, form)
    assert response.status_code == 200  # like PayU
    html = response.content.decode()
    assert f'data-error-code="{code}"' in html
    assert not SandboxPayUOrder.objects.exists()


def test_bad_signature_message(client):
    response = submit(client, payu_form(signature="abc"))
    assert "invalid sign / order_not_processed_by_sign" in response.content.decode()


def test_reused_reference_is_refused(client):
    form = payu_form()
    assert submit(client, form).status_code == 303
    again = submit(client, form)
    assert again.status_code == 200
    assert 'data-error-code="duplicate_reference"' in again.content.decode()
    assert SandboxPayUOrder.objects.count() == 1


def test_expiration_date_beyond_seven_days_is_refused(client):
    later = timezone.localtime() + dt.timedelta(days=8)
    response = submit(client, payu_form(expirationDate=f"{later:%Y-%m-%d %H:%M:%S}"))
    assert 'data-error-code="invalid_expiration_date"' in response.content.decode()


def test_missing_tax_gets_colombian_vat(client):
    form = payu_form()
    del form["tax"], form["taxReturnBase"]
    assert submit(client, form).status_code == 303
    order = SandboxPayUOrder.objects.get()
    assert (order.tax, order.tax_return_base) == ("19000.00", "100000.00")


# --- Card ------------------------------------------------------------------------------------------


def test_card_approved_sends_confirmation_and_returns_to_merchant(client, fake_http, commit):
    order = start(client)
    with commit():
        response = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/payments/payu/response/?")
    params = response_query(response)
    assert params["transactionState"] == "4" and params["lapTransactionState"] == "APPROVED"
    assert (
        params["polResponseCode"] == "1"
        and params["TX_VALUE"] == "119000.00"
        and params["TX_TAX"] == "19000.00"
    )
    assert params["referenceCode"] == order.reference_code and params["reference_pol"] == str(
        order.payu_order_id
    )
    assert params["polPaymentMethodType"] == "2" and params["lapPaymentMethod"] == "VISA"
    assert params["signature"] == expected_response_signature(params)

    assert len(fake_http.calls) == 1
    call = fake_http.calls[0]
    assert call["url"] == "http://testserver/payments/payu/confirmation/"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    fields = fake_http.form()
    assert (
        fields["state_pol"] == "4"
        and fields["response_code_pol"] == "1"
        and fields["response_message_pol"] == "APPROVED"
    )
    assert (
        fields["value"] == "119000.00"
        and fields["tax"] == "19000.00"
        and fields["currency"] == "COP"
    )
    assert fields["reference_sale"] == order.reference_code and fields["reference_pol"] == str(
        order.payu_order_id
    )
    assert fields["payment_method_type"] == "2" and fields["payment_method_name"] == "VISA"
    assert fields["cc_number"] == "************1111" and fields["attempts"] == "1"
    assert fields["transaction_id"] == params["transactionId"]
    assert fields["sign"] == expected_confirmation_sign(fields)
    assert "4111111111111111" not in call["body"].decode()

    order.refresh_from_db()
    tx = order.transactions.get()
    assert order.state == "APPROVED" and tx.card_last4 == "1111"
    assert SandboxNotification.objects.get().status == NotificationStatus.DELIVERED


@pytest.mark.parametrize("algorithm", ["SHA", "SHA256", "HMAC-SHA256"])
def test_sign_and_signature_use_the_form_algorithm(client, fake_http, commit, algorithm):
    order = start(client, algorithm)
    with commit():
        response = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    params = response_query(response)
    assert params["signature"] == expected_response_signature(params, algorithm)
    fields = fake_http.form()
    assert fields["sign"] == expected_confirmation_sign(fields, algorithm)


def test_decimal_amounts_follow_each_new_value_rule(client, fake_http, commit):
    order = start(client, amount="150.25", tax="0", taxReturnBase="0", currency="USD")
    with commit():
        response = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    params, fields = response_query(response), fake_http.form()
    assert params["TX_VALUE"] == "150.25" and params["TX_TAX"] == ".00"
    base = "~".join(
        [API_KEY, "508029", order.reference_code, "150.2", "USD", "4"]
    )  # response: half-even to 1 decimal
    assert params["signature"] == payu_sign(base)
    base = "~".join(
        [API_KEY, "508029", order.reference_code, "150.25", "USD", "4"]
    )  # confirmation: keeps 2 decimals
    assert fields["sign"] == payu_sign(base)


def test_declined_then_approved_on_the_same_reference(client, fake_http, commit):
    order = start(client)
    with commit():
        declined = client.post(
            f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_DECLINED
        )
    params = response_query(declined)
    assert params["transactionState"] == "6" and params["lapResponseCode"] == "ENTITY_DECLINED"
    assert params["signature"] == expected_response_signature(params)
    first = fake_http.form()
    assert first["state_pol"] == "6" and first["response_code_pol"] == "5"
    assert first["sign"] == expected_confirmation_sign(first)

    page = client.get(f"/sandbox/payu/checkout/{order.checkout_token}/")
    assert "Pagar con tarjeta" in page.content.decode()  # the buyer may try again
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    second = fake_http.form()
    assert second["state_pol"] == "4"
    assert (
        second["reference_pol"] == first["reference_pol"]
        and second["reference_sale"] == first["reference_sale"]
    )
    assert second["transaction_id"] != first["transaction_id"]
    assert SandboxPayUTransaction.objects.filter(order=order).count() == 2


def test_holder_name_forces_the_outcome(client, fake_http, commit):
    order = start(client)
    with commit():
        response = client.post(
            f"/sandbox/payu/checkout/{order.checkout_token}/card/",
            {**CARD_OK, "card_holder": "REJECTED"},
        )
    assert response_query(response)["transactionState"] == "6"
    with commit():
        response = client.post(
            f"/sandbox/payu/checkout/{order.checkout_token}/card/",
            {**CARD_DECLINED, "card_holder": "APPROVED"},
        )
    assert response_query(response)["transactionState"] == "4"


def test_error_card_gives_transaction_state_104(client, fake_http, commit):
    order = start(client)
    with commit():
        response = client.post(
            f"/sandbox/payu/checkout/{order.checkout_token}/card/",
            {**CARD_OK, "card_number": "4000000000000119"},
        )
    params = response_query(response)
    assert params["transactionState"] == "104" and params["polTransactionState"] == "6"
    assert params["signature"] == expected_response_signature(params)
    assert fake_http.form()["state_pol"] == "6" and fake_http.form()["response_code_pol"] == "9999"


def test_invalid_card_number_is_a_form_error_and_never_echoed(client, fake_http):
    order = start(client)
    response = client.post(
        f"/sandbox/payu/checkout/{order.checkout_token}/card/",
        {**CARD_OK, "card_number": "4111111111111112"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "no es un número de tarjeta válido" in html and "4111111111111112" not in html
    assert not SandboxPayUTransaction.objects.exists()


def test_approved_order_accepts_no_more_attempts(client, fake_http, commit):
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    again = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    assert again.status_code == 303
    assert SandboxPayUTransaction.objects.count() == 1
    assert (
        "Volver al sitio del comercio"
        in client.get(f"/sandbox/payu/checkout/{order.checkout_token}/").content.decode()
    )


def test_without_response_url_the_flow_ends_on_the_simulator(client, fake_http, commit):
    order = start(client, responseUrl="")
    with commit():
        response = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    assert response["Location"].startswith("/sandbox/payu/result/")
    assert "Transacción aprobada" in client.get(response["Location"]).content.decode()


def test_without_confirmation_url_nothing_is_sent(client, fake_http, commit):
    order = start(client, confirmationUrl="")
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    assert fake_http.calls == []


# --- PSE -------------------------------------------------------------------------------------------


def test_pse_pending_then_approved(client, fake_http, commit):
    order = start(client)
    with commit():
        response = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/pse/", PSE)
    assert response.status_code == 303
    bank_url = response["Location"]
    tx = SandboxPayUTransaction.objects.get()
    assert bank_url == f"/sandbox/payu/pse-bank/{tx.transaction_id}/"
    page = client.get(bank_url).content.decode()
    assert "BANCO UNION COLOMBIANO" in page and "Aprobar pago" in page and "Dejar pendiente" in page

    with commit():
        pending = client.post(bank_url, {"decision": "pending"})
    params = response_query(pending)
    assert (
        params["transactionState"] == "7"
        and params["polTransactionState"] == "12"
        and params["polResponseCode"] == "9994"
    )
    assert params["cus"] == tx.trazability_code and params["pseBank"] == "BANCO UNION COLOMBIANO"
    assert params["signature"] == expected_response_signature(params)
    assert fake_http.calls == []  # confirmation-page.html: only final states are confirmed
    order.refresh_from_db()
    assert order.state == "PENDING"

    with commit():
        approved = client.post(
            bank_url, {"decision": "approve"}
        )  # resolved later from the same URL
    assert response_query(approved)["transactionState"] == "4"
    fields = fake_http.form()
    assert (
        fields["state_pol"] == "4"
        and fields["payment_method_type"] == "4"
        and fields["payment_method_name"] == "PSE"
    )
    assert fields["cus"] == tx.trazability_code and fields["pse_bank"] == "BANCO UNION COLOMBIANO"
    assert fields["pse_reference2"] == "CC" and fields["pse_reference3"] == "1020304050"
    assert "cc_number" not in fields
    assert fields["sign"] == expected_confirmation_sign(fields)


def test_pse_rejected(client, fake_http, commit):
    order = start(client)
    with commit():
        bank_url = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/pse/", PSE)[
            "Location"
        ]
    with commit():
        rejected = client.post(bank_url, {"decision": "reject"})
    assert response_query(rejected)["transactionState"] == "6"
    assert fake_http.form()["response_code_pol"] == "4"


def test_pse_placeholder_bank_is_refused(client):
    order = start(client)
    response = client.post(
        f"/sandbox/payu/checkout/{order.checkout_token}/pse/", {**PSE, "bank": "0"}
    )
    assert response.status_code == 200 and "Seleccione su banco." in response.content.decode()


# --- Cash ------------------------------------------------------------------------------------------


def test_cash_voucher_paid_at_the_cash_point(client, fake_http, commit):
    order = start(client)
    response = client.post(
        f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"}
    )
    assert response.status_code == 303
    tx = SandboxPayUTransaction.objects.get()
    voucher = client.get(response["Location"]).content.decode()
    assert str(order.payu_order_id) in voucher and "119.000,00" in voucher
    assert tx.cash_expires_at is not None
    assert tx.state == "PENDING" and tx.cash_expires_at > timezone.now() + dt.timedelta(days=6)
    assert fake_http.calls == []

    with commit():
        paid = client.post("/sandbox/payu/cash-point/", {"reference": str(order.payu_order_id)})
    assert paid.status_code == 200 and "pagado" in paid.content.decode()
    fields = fake_http.form()
    assert (
        fields["state_pol"] == "4"
        and fields["payment_method_type"] == "7"
        and fields["payment_method_name"] == "BALOTO"
    )
    assert fields["sign"] == expected_confirmation_sign(fields)
    again = client.post("/sandbox/payu/cash-point/", {"reference": str(order.payu_order_id)})
    assert "ya fue pagad" in again.content.decode()


def test_cash_voucher_uses_expiration_date(client):
    when = timezone.localtime() + dt.timedelta(days=2)
    order = start(client, expirationDate=f"{when:%Y-%m-%d %H:%M:%S}")
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "OTHERS_CASH"})
    tx = SandboxPayUTransaction.objects.get()
    assert tx.cash_expires_at == when.replace(microsecond=0)


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_voucher_says_when_to_pay_as_people_in_colombia_read_a_date(client, settings, language):
    """Day/month/year and the 24-hour clock of the rest of the pages, in Spanish and English
    (a cash point's clerk and the payer read it; 2026-12-08 reads as a machine's date)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    when = (timezone.localtime() + dt.timedelta(days=2)).replace(hour=15, minute=30, second=0)
    order = start(client, expirationDate=f"{when:%Y-%m-%d %H:%M:%S}")
    voucher = client.post(
        f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "OTHERS_CASH"}
    )["Location"]
    page = client.get(voucher).content.decode()
    assert f"{when:%d/%m/%Y} 15:30" in page
    assert f"{when:%Y-%m-%d} 15:30" not in page


def test_expired_voucher_is_confirmed_as_expired_and_cannot_be_paid(client, fake_http, commit):
    order = start(client)
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "OTHERS_CASH"})
    with commit():
        result = expire_vouchers(now=timezone.now() + dt.timedelta(days=8))
    assert result == {"payu": 1, "payvalida": 0}
    fields = fake_http.form()
    assert (
        fields["state_pol"] == "5"
        and fields["response_code_pol"] == "20"
        and fields["response_message_pol"] == "EXPIRED_TRANSACTION"
    )
    assert fields["sign"] == expected_confirmation_sign(fields)
    order.refresh_from_db()
    assert order.state == "EXPIRED"
    refused = client.post("/sandbox/payu/cash-point/", {"reference": str(order.payu_order_id)})
    assert "venció" in refused.content.decode()
    assert len(fake_http.calls) == 1


def test_voucher_past_its_date_is_refused_at_the_cash_point_even_before_the_sweep(
    client, fake_http, commit
):
    order = start(client)
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"})
    SandboxPayUTransaction.objects.update(cash_expires_at=timezone.now() - dt.timedelta(minutes=1))
    with commit():
        refused = client.post("/sandbox/payu/cash-point/", {"reference": str(order.payu_order_id)})
    assert "venció" in refused.content.decode()
    assert fake_http.form()["state_pol"] == "5"


def test_management_command_expires_vouchers(client, fake_http):
    from io import StringIO

    from django.core.management import call_command

    order = start(client)
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"})
    SandboxPayUTransaction.objects.update(cash_expires_at=timezone.now() - dt.timedelta(minutes=1))
    out = StringIO()
    call_command("sandbox_expire", stdout=out)
    assert "Expired 1 PayU voucher(s)" in out.getvalue()
    assert SandboxPayUTransaction.objects.get().state == "EXPIRED"


# --- Delivery and retries ---------------------------------------------------------------------------


def test_confirmation_is_retried_until_http_200(client, fake_http, commit):
    fake_http.answers = [HttpResponse(500, b"boom", {}), HttpResponse(403, b"bad sign", {})]
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    assert len(fake_http.calls) == 1
    run_retries()
    assert len(fake_http.calls) == 3
    assert [fake_http.form(i)["attempts"] for i in range(3)] == ["1", "2", "3"]
    assert len({fake_http.form(i)["sign"] for i in range(3)}) == 1
    notification = SandboxNotification.objects.get()
    assert notification.status == NotificationStatus.DELIVERED and notification.attempts == 3
    deliveries = list(SandboxDelivery.objects.values_list("attempt", "status_code", "accepted"))
    assert deliveries == [(1, 500, False), (2, 403, False), (3, 200, True)]


def test_confirmation_gives_up_after_nine_attempts(client, fake_http, commit):
    fake_http.answers = [HttpResponse(503, b"down", {})] * 20
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    run_retries()
    assert len(fake_http.calls) == 9  # confirmation-page.html: "a maximum of nine (9) attempts"
    notification = SandboxNotification.objects.get()
    assert notification.status == NotificationStatus.FAILED and notification.attempts == 9


def test_network_errors_are_recorded_and_retried(client, commit):
    from unittest import mock

    calls = []

    def flaky(method, url, body, headers, timeout=None):
        calls.append(url)
        if len(calls) == 1:
            raise HttpError("POST http://testserver/x failed: ConnectionRefusedError")
        return HttpResponse(200, b"", {})

    order = start(client)
    with mock.patch("clientarea.lib.http.send", flaky):
        with commit():
            client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
        run_retries()
    first, second = SandboxDelivery.objects.order_by("attempt")
    assert first.status_code is None and "ConnectionRefusedError" in first.error
    assert second.accepted


def test_dashboard_lists_orders_and_resends(client, fake_http, commit):
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    client.force_login(make_staff())  # the dashboard is for staff
    page = client.get("/sandbox/").content.decode()
    assert (
        order.reference_code in page
        and "Reenviar" in page
        and "Simulador: aquí no se mueve dinero real" in page
    )
    notification = SandboxNotification.objects.get()
    with commit():
        response = client.post(reverse("sandbox:resend_notification", args=[notification.pk]))
    assert response.status_code == 303
    assert len(fake_http.calls) == 2 and fake_http.form()["attempts"] == "2"


# --- Queries API --------------------------------------------------------------------------------------


def query(client, command: str, details: dict | None = None, api_key: str = API_KEY):
    body = {
        "test": True,
        "language": "es",
        "command": command,
        "merchant": {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": api_key},
    }
    if details is not None:
        body["details"] = details
    response = client.post(
        "/sandbox/payu/reports-api/4.0/service.cgi", body, content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def test_queries_api_ping_and_credentials(client):
    assert query(client, "PING")["code"] == "SUCCESS"
    assert query(client, "PING", api_key="wrong") == {
        "code": "ERROR",
        "error": "Invalid credentials",
        "result": None,
    }
    assert client.get("/sandbox/payu/reports-api/4.0/service.cgi").status_code == 405


def test_queries_api_order_by_reference(client, fake_http, commit):
    order = start(client)
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_DECLINED)
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    answer = query(
        client, "ORDER_DETAIL_BY_REFERENCE_CODE", {"referenceCode": order.reference_code}
    )
    assert answer["code"] == "SUCCESS" and answer["error"] is None
    (found,) = answer["result"]["payload"]
    assert (
        found["id"] == order.payu_order_id
        and found["accountId"] == 512321
        and found["status"] == "CAPTURED"
    )
    assert (
        found["referenceCode"] == order.reference_code
        and found["buyer"]["emailAddress"] == "alice@example.com"
    )
    states = [t["transactionResponse"]["state"] for t in found["transactions"]]
    assert states == ["DECLINED", "APPROVED"]
    approved = found["transactions"][1]
    assert approved["type"] == "AUTHORIZATION_AND_CAPTURE" and approved["paymentMethod"] == "VISA"
    assert approved["transactionResponse"]["responseCode"] == "APPROVED"
    assert approved["transactionResponse"]["authorizationCode"]
    assert isinstance(approved["transactionResponse"]["operationDate"], int)
    assert approved["additionalValues"]["TX_VALUE"] == {"value": 119000, "currency": "COP"}
    assert approved["creditCard"]["maskedNumber"] == "************1111"
    raw = client.post(
        "/sandbox/payu/reports-api/4.0/service.cgi",
        {
            "command": "ORDER_DETAIL_BY_REFERENCE_CODE",
            "merchant": {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": API_KEY},
            "details": {"referenceCode": order.reference_code},
        },
        content_type="application/json",
    ).content.decode()
    assert (
        '"TX_VALUE":{"value":119000.00,"currency":"COP"}' in raw
    )  # a JSON number, written from Decimal


def test_queries_api_unknown_reference_and_order_detail(client, fake_http):
    assert query(client, "ORDER_DETAIL_BY_REFERENCE_CODE", {"referenceCode": "nope"}) == {
        "code": "SUCCESS",
        "error": None,
        "result": {"payload": None},
    }
    order = start(client)
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"})
    detail = query(client, "ORDER_DETAIL", {"orderId": order.payu_order_id})["result"]["payload"]
    assert detail["status"] == "IN_PROGRESS"
    tx = detail["transactions"][0]
    assert (
        tx["transactionResponse"]["state"] == "PENDING"
        and tx["transactionResponse"]["pendingReason"] == "AWAITING_NOTIFICATION"
    )
    assert tx["extraParameters"]["REFERENCE"] == order.payu_order_id
    assert query(client, "ORDER_DETAIL", {"orderId": 1})["result"]["payload"] is None
    tx_detail = query(client, "TRANSACTION_RESPONSE_DETAIL", {"transactionId": tx["id"]})["result"][
        "payload"
    ]
    assert tx_detail["state"] == "PENDING"
    assert query(client, "FOO")["code"] == "ERROR"


def test_queries_api_refuses_non_json(client):
    response = client.post(
        "/sandbox/payu/reports-api/4.0/service.cgi",
        "command=PING",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.json()["code"] == "ERROR"
