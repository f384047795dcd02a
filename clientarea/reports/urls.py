"""Mounted at /admin/reports/ (before the admin's own URLs): staff pages, linked from the admin index."""

from django.urls import path

from clientarea.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("aging/<str:bucket>/", views.aging_bucket, name="aging"),
    path("reports/", views.reports, name="reports"),
    path("reports/<str:kind>.csv", views.export_csv, name="csv"),
    path("reports/<str:kind>/xlsx/", views.export_xlsx, name="xlsx"),
    path("exports/<int:job_id>/", views.export_status, name="export"),
    path("exports/<int:job_id>/download/", views.export_download, name="download"),
]
