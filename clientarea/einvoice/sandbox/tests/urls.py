"""The project's URLs plus the DIAN simulator at /sandbox/dian/ (the project mounts it there
only when its switch is on)."""

from django.urls import include, path

from clientarea.urls import urlpatterns as project_urls

urlpatterns = [
    path("sandbox/dian/", include("clientarea.einvoice.sandbox.urls")),
    *project_urls,
]
