"""The client area's URLs under ``/clientarea/``: the dashboard and the account pages.

They keep the ``accounts`` namespace that every link uses (``accounts:dashboard``); the
dashboard is the portal's, because it shows every app, and the rest are the account pages.
"""

from django.urls import path

from clientarea.accounts import urls as account_urls
from clientarea.portal import views

app_name = account_urls.app_name

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    *account_urls.urlpatterns,
]
