"""URLs of the gateway simulators, mounted at ``/sandbox/`` only when ``settings.PAYMENTS_SANDBOX``.

The PayU and Payvalida API paths mirror the real ones (``ppp-web-gateway-payu/``,
``reports-api/4.0/service.cgi``, ``api/v3/porders``) so the merchant adapters only swap the host.
"""

from django.urls import path

from clientarea.payments.sandbox import views, views_payu, views_payvalida

app_name = "sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("notifications/<int:pk>/resend/", views.resend_notification, name="resend_notification"),
    path("expire/", views.expire_due, name="expire_due"),
    # PayU Latam WebCheckout
    path("payu/ppp-web-gateway-payu/", views_payu.gateway, name="payu_gateway"),
    # The checkout shows the buyer's data: an unguessable token in its URLs, not PayU's order id.
    path("payu/checkout/<str:token>/", views_payu.checkout, name="payu_checkout"),
    path("payu/checkout/<str:token>/card/", views_payu.pay_card, name="payu_card"),
    path("payu/checkout/<str:token>/pse/", views_payu.start_pse, name="payu_pse"),
    path("payu/checkout/<str:token>/cash/", views_payu.issue_cash, name="payu_cash"),
    path("payu/pse-bank/<uuid:transaction_id>/", views_payu.pse_bank, name="payu_pse_bank"),
    path("payu/voucher/<uuid:transaction_id>/", views_payu.voucher, name="payu_voucher"),
    path(
        "payu/voucher/<uuid:transaction_id>/expire/",
        views_payu.expire_voucher_now,
        name="payu_voucher_expire",
    ),
    path("payu/cash-point/", views_payu.cash_point, name="payu_cash_point"),
    path("payu/result/<uuid:transaction_id>/", views_payu.result, name="payu_result"),
    path("payu/reports-api/4.0/service.cgi", views_payu.queries, name="payu_queries"),
    path("payu/payments-api/4.0/service.cgi", views_payu.payments_api, name="payu_payments_api"),
    path(
        "payu/refunds/<uuid:refund_id>/resolve/",
        views_payu.resolve_refund,
        name="payu_refund_resolve",
    ),
    # Payvalida
    path("payvalida/api/v3/porders", views_payvalida.api_register, name="payvalida_register"),
    path("payvalida/api/v3/porders/<str:order>", views_payvalida.api_order, name="payvalida_order"),
    path("payvalida/checkout/", views_payvalida.checkout, name="payvalida_checkout"),
    path("payvalida/checkout/card/", views_payvalida.pay_card, name="payvalida_card"),
    path("payvalida/checkout/pse/", views_payvalida.start_pse, name="payvalida_pse"),
    path("payvalida/checkout/cash/", views_payvalida.issue_cash, name="payvalida_cash"),
    path(
        "payvalida/pse-bank/<uuid:attempt_id>/", views_payvalida.pse_bank, name="payvalida_pse_bank"
    ),
    path("payvalida/voucher/<uuid:attempt_id>/", views_payvalida.voucher, name="payvalida_voucher"),
    path("payvalida/cash-point/", views_payvalida.cash_point, name="payvalida_cash_point"),
    path(
        "payvalida/orders/<int:pk>/expire/",
        views_payvalida.expire_order_now,
        name="payvalida_order_expire",
    ),
    path(
        "payvalida/orders/<int:pk>/annul/",
        views_payvalida.annul_order_now,
        name="payvalida_order_annul",
    ),
]
