from django.urls import path

from clientarea.billing import views

app_name = "billing"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("<str:number>/", views.order_detail, name="order"),
    path("<str:number>/print/", views.order_print, name="order_print"),
]
