"""Ordering from the catalog, under ``/clientarea/order/`` (namespace ``order``)."""

from django.urls import path

from clientarea.portal import order_views as views

app_name = "order"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("cart/", views.cart, name="cart"),
    path("cart/remove/<int:index>/", views.remove_item, name="remove"),
    path("cart/coupon/", views.apply_coupon, name="coupon"),
    path("cart/checkout/", views.checkout, name="checkout"),
    path("<slug:code>/", views.product, name="product"),
]
