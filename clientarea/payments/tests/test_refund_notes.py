"""A refund the gateway could not be asked for: our words for what went wrong (a code read in the
reader's language, the same words a failed payment start or query uses), the gateway's own words
apart, never the exception's text; rows written before get their codes (migration 0013), and
so does the detail of an approval that could not be applied."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import translation

from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.models import Payment, Refund, RefundState
from clientarea.payments.status_notes import FAILURES
from clientarea.payments.tests.test_refunds import english, network, pay_with_payu  # noqa: F401
from clientarea.test import make_staff

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("clientarea.payments.migrations.0013_refund_note")


def test_a_refund_that_could_not_be_prepared_is_declined_in_our_words(
    network,  # noqa: F811
    django_capture_on_commit_callbacks,
    english,  # noqa: F811
):
    """PayU's adapter cannot send a refund without PayU's order id: the refund is declined with
    our words for it, and the staff email says so too (not "PayU refund: the payment has...")."""
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    make_staff()
    Payment.objects.filter(pk=payment.pk).update(gateway_order_id="not-a-number")
    payment.refresh_from_db()
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment, amount=Decimal("119000.00"), method="gateway", reason="Duplicate"
        )
    refund.refresh_from_db()
    assert refund.state == RefundState.DECLINED
    assert refund.gateway_message == ""
    assert refund.note_code == "refund_not_made"
    assert refund.note_values["failure"] == "invalid"
    with translation.override("en"):
        assert refund.note_text == (
            "the request could not be prepared for the gateway: the refund was not made"
        )
    with translation.override("es"):
        assert refund.note_text == (
            "la solicitud no se pudo preparar para la pasarela: la devolución no se hizo"
        )
    alert = OutgoingEmail.objects.filter(template="payment_review").latest("id")
    # Rendered in the site's language (Spanish), not the exception's English text.
    assert alert.language.startswith("es")
    assert "PayU refund: the payment" not in alert.body_text
    assert (
        "reembolso de $ 119.000 rechazado por la pasarela: la solicitud no se pudo preparar "
        "para la pasarela: la devolución no se hizo"
    ) in " ".join(alert.body_text.split())


def test_the_refund_inline_shows_ours_and_the_gateways_words_apart(client):
    staff = make_staff()
    payment = _approved_payment()
    Refund.objects.create(
        payment=payment,
        customer=payment.customer,
        amount=Decimal("1000.00"),
        method="gateway",
        state=RefundState.DECLINED,
        reason="Duplicate",
        gateway_message="ERROR_MINIMUM_AMOUNT",
        note_code="refund_not_made",
        note_values={"failure": "refused"},
    )
    client.force_login(staff)
    url = f"/admin/payments/payment/{payment.pk}/change/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "la pasarela rechazó la solicitud: la devolución no se hizo" in page
    assert "la pasarela dijo: «ERROR_MINIMUM_AMOUNT»" in page
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "the gateway refused the request: the refund was not made" in page
    assert "the gateway said: «ERROR_MINIMUM_AMOUNT»" in page


def _approved_payment() -> Payment:
    from clientarea.payments.tests.helpers import make_renewal_order
    from clientarea.test import make_customer

    customer = make_customer()
    order, _service = make_renewal_order(customer)
    return Payment.objects.create(
        customer=customer,
        order=order,
        reference=f"{order.number}-1",
        gateway="payu",
        amount=order.total,
        currency="COP",
        tax=Decimal("0"),
        tax_base=Decimal("0"),
        status="approved",
        gateway_transaction_id="tx-1",
        attempt=1,
    )


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (
            "PayU payments API unreachable: POST https://api.payulatam.com/payments-api/4.0/"
            "service.cgi failed: TimeoutError",
            ("refund_unknown", {"failure": "timeout"}, ""),
        ),
        (
            "PayU payments API unreachable: POST https://x/ failed: ConnectionRefusedError",
            ("refund_unknown", {"failure": "refused_connection"}, ""),
        ),
        (
            "PayU payments API unreachable: POST https://x/ failed: URLError",
            ("refund_unknown", {"failure": "unreachable"}, ""),
        ),
        ("PayU payments API answered HTTP 503", ("refund_unknown", {"failure": "unavailable"}, "")),
        (
            "PayU refund: the payment has no PayU order id",
            (
                "refund_not_made",
                {"failure": "invalid", "detail": "PayU refund: the payment has no PayU order id"},
                "",
            ),
        ),
        # The gateway's own words stay as they came.
        ("ERROR_MINIMUM_AMOUNT", None),
        ("PENDING_REVIEW", None),
    ],
)
def test_existing_refund_texts_become_codes(stored, expected):
    payment = _approved_payment()
    refund = Refund.objects.create(
        payment=payment,
        customer=payment.customer,
        amount=Decimal("1000.00"),
        method="gateway",
        state=RefundState.SENT,
        reason="Duplicate",
        gateway_message=stored,
    )
    MIGRATION.forward(apps, None)
    refund.refresh_from_db()
    found = (refund.note_code, refund.note_values, refund.gateway_message)
    assert found == (expected or ("", {}, stored))
    if expected:
        kind = expected[1]["failure"]
        with translation.override("es"):
            assert refund.note_text.startswith(str(FAILURES[kind]))


def test_an_existing_mismatch_becomes_a_code_read_in_the_readers_language():
    payment = _approved_payment()
    problem = "amount mismatch: got 1000.00, expected 119000.00"
    Payment.objects.filter(pk=payment.pk).update(
        status="error",
        status_note_code="approved_not_applied",
        status_note_values={"problem": problem},
        needs_review=True,
        review_code="mismatch",
        review_values={"problem": problem, "transaction": "tx-9"},
        review_reason=f"{problem} (transaction tx-9)",
    )
    MIGRATION.forward(apps, None)
    payment.refresh_from_db()
    assert payment.status_note_values["problem"]["code"] == "amount"
    with translation.override("es"):
        assert payment.status_note_text == (
            "aprobado en la pasarela, no aplicado: el valor no coincide: llegó 1000.00, se "
            "esperaba 119000.00"
        )
        assert payment.review_text == (
            "el valor no coincide: llegó 1000.00, se esperaba 119000.00 (transacción tx-9)"
        )
    with translation.override("en"):
        assert payment.review_text == f"{problem} (transaction tx-9)"
    MIGRATION.back(apps, None)
    payment.refresh_from_db()
    assert payment.status_note_values == {"problem": problem}
    assert payment.review_values == {"problem": problem, "transaction": "tx-9"}


def test_a_refunds_line_on_the_payment_reads_in_the_readers_language(
    network,  # noqa: F811
    django_capture_on_commit_callbacks,
    client,
):
    """A completed refund adds a line to the payment's refund note with its method: it was
    written in the language of the staff member who made it ("Manual (transferencia bancaria o
    panel de la pasarela)" for an English reader), with cents the rest of the page does not show.
    It is written in English now, and the payment page reads the method in the reader's words,
    also in lines written before in Spanish."""
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    with translation.override("es"), captured(execute=True):  # a Spanish-speaking staff member
        services.refund_payment(
            payment=payment,
            amount=Decimal("20000"),
            method="manual",
            bank_reference="Bancolombia 998877",
            reason="Acuerdo",
        )
    payment.refresh_from_db()
    assert payment.refund_note == (
        "$ 20.000 Manual (bank transfer or the gateway's back office) Bancolombia 998877"
    )
    # A line written before, in Spanish and with cents, beside staff's own note.
    Payment.objects.filter(pk=payment.pk).update(
        refund_note="Devuelto por acuerdo\n$ 20.000,00 Manual (transferencia bancaria o panel de "
        "la pasarela) Bancolombia 998877"
    )
    client.force_login(make_staff())
    url = f"/admin/payments/payment/{payment.pk}/change/"
    client.cookies["django_language"] = "en"
    english_page = client.get(url).content.decode()
    assert "Manual (bank transfer or the gateway&#x27;s back office) Bancolombia 998877" in (
        english_page
    )
    assert "transferencia bancaria o panel" not in english_page
    assert "Devuelto por acuerdo" in english_page  # what staff typed, as typed
    client.cookies["django_language"] = "es"
    spanish_page = client.get(url).content.decode()
    assert "Manual (transferencia bancaria o panel de la pasarela) Bancolombia 998877" in (
        spanish_page
    )
