"""The customer's Services pages, in the ``subscriptions`` namespace their links use."""

from django.urls import path

from clientarea.portal import services_views as views

app_name = "subscriptions"

urlpatterns = [
    path("", views.service_list, name="list"),
    path("new/", views.order_service, name="new"),
    path("<int:pk>/", views.service_detail, name="detail"),
    path("<int:pk>/cancel/", views.request_cancellation, name="cancel"),
    path("<int:pk>/cancel/withdraw/", views.withdraw_cancellation, name="withdraw_cancellation"),
    path("<int:pk>/change/", views.change_plan, name="change_plan"),
    path("<int:pk>/change/withdraw/", views.cancel_plan_change, name="cancel_plan_change"),
    path("<int:pk>/options/", views.change_options, name="change_options"),
]
