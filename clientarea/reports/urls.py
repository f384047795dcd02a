"""Mounted at /admin/reports/ (before the admin's own URLs): staff pages, linked from the admin index."""

from django.urls import path

from clientarea.reports import email_views, views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("aging/<str:bucket>/", views.aging_bucket, name="aging"),
    path("reports/", views.reports, name="reports"),
    path("movements/", views.money_movements, name="movements"),
    path("reports/<str:kind>.csv", views.export_csv, name="csv"),
    path("reports/<str:kind>/xlsx/", views.export_xlsx, name="xlsx"),
    path("exports/<int:job_id>/", views.export_status, name="export"),
    path("exports/<int:job_id>/download/", views.export_download, name="download"),
    path("emails/", email_views.template_list, name="email_templates"),
    path("emails/<str:template>/<str:language>/", email_views.template_edit, name="email_template"),
    path(
        "emails/<str:template>/<str:language>/revert/",
        email_views.template_revert,
        name="email_template_revert",
    ),
    path(
        "emails/<str:template>/<str:language>/default/",
        email_views.template_default,
        name="email_template_default",
    ),
]
