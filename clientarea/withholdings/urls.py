from django.urls import path

from clientarea.withholdings import views

app_name = "withholdings"

urlpatterns = [
    path("", views.index, name="index"),
    path("request/", views.request_agent, name="request"),
    path("certificates/", views.upload, name="upload"),
    path("certificates/<int:pk>/pdf/", views.certificate_pdf, name="certificate_pdf"),
]
