from django.urls import path

from clientarea.backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("customers/<int:pk>/", views.customer, name="customer"),
    path("customers/<int:pk>/notes/", views.note_add, name="note_add"),
    path("notes/<int:pk>/pin/", views.note_pin, name="note_pin"),
    path("customers/<int:pk>/orders/new/", views.order_new, name="order_new"),
    path("customers/<int:pk>/services/new/", views.service_new, name="service_new"),
    path("services/<int:pk>/edit/", views.service_edit, name="service_edit"),
    path("services/<int:pk>/change-plan/", views.service_change_plan, name="service_change_plan"),
    path("services/<int:pk>/<slug:action>/", views.service_status, name="service_status"),
    path("customers/<int:pk>/credit/pay-out/", views.credit_payout, name="credit_payout"),
    path("customers/<int:pk>/credit/register/", views.credit_register, name="credit_register"),
    path("customers/<int:pk>/access-code/", views.resend_code, name="resend_code"),
    path("customers/<int:pk>/unlock-login/", views.unlock_login, name="unlock_login"),
    path("customers/<int:pk>/view-as/", views.impersonate_start, name="impersonate_start"),
    path("view-as/stop/", views.impersonate_stop, name="impersonate_stop"),
]
