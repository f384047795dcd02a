from django.urls import include, path

urlpatterns = [path("sandbox/dian/", include("clientarea.einvoice.sandbox.urls"))]
