"""The customer's Billing pages, in the ``billing`` namespace their links use. They live in the
portal because an order's page also shows a payment in process (payments sits above billing)."""

from django.urls import path

from clientarea.portal import billing_views as views
from clientarea.portal import refund_views

app_name = "billing"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("statement/", views.statement, name="statement"),
    path("refunds/", refund_views.refund_list, name="refunds"),
    path("refunds/<int:pk>/", refund_views.refund_detail, name="refund"),
    path("<str:number>/", views.order_detail, name="order"),
    path("<str:number>/print/", views.order_print, name="order_print"),
    path("<str:number>/apply-credit/", views.apply_credit, name="apply_credit"),
]
