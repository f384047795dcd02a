from django.urls import path

from clientarea.einvoice import views

app_name = "einvoice"

urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("<str:number>/<str:kind>/", views.download, name="download"),
]
