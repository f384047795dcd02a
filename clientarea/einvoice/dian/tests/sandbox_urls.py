"""The project's URLs plus the local DIAN simulator at /sandbox/dian/ (round-trip tests only;
the project mounts it there itself when ``DIAN_SANDBOX`` is on)."""

from django.urls import include, path

from clientarea.urls import urlpatterns as project_urls

urlpatterns = [
    path("sandbox/dian/", include("clientarea.einvoice.sandbox.urls")),
    *project_urls,
]
