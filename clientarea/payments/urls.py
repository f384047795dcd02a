from django.urls import path

from clientarea.payments import views

app_name = "payments"

urlpatterns = [
    path("pay-orders/", views.pay_several, name="pay_several"),
    path("add-funds/", views.add_funds, name="add_funds"),
    path("pay/<str:number>/", views.choose, name="choose"),
    path("result/<str:reference>/", views.result, name="result"),
    path("payu/confirmation/", views.payu_confirmation, name="payu_confirmation"),
    path("payu/response/", views.payu_response, name="payu_response"),
    path("payvalida/notification/", views.payvalida_notification, name="payvalida_notification"),
    path("payvalida/return/", views.payvalida_return, name="payvalida_return"),
]
