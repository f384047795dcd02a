from django.urls import path

from clientarea.subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.service_list, name="list"),
    path("new/", views.order_service, name="new"),
    path("<int:pk>/", views.service_detail, name="detail"),
]
