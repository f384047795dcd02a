from django.urls import path

from clientarea.ops import views

app_name = "ops"

urlpatterns = [
    path("healthz/live", views.live, name="live"),
    path("healthz/ready", views.ready, name="ready"),
    path("metrics", views.metrics_view, name="metrics"),
]
