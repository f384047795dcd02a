"""Operational endpoints: liveness, readiness, Prometheus metrics. Answers are for machines."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clientarea.ops import metrics, selectors

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and answers: no database, no queue (a restart would not help them)."""
    return JsonResponse({"status": "ok"})


def queue_ping() -> str:
    """The task queue's storage answers (a Redis round trip, or a query on Huey's SQLite file)."""
    from huey.contrib.djhuey import HUEY

    HUEY.pending_count()
    return type(HUEY.storage).__name__


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database answers a query and the task queue is reachable.

    200 with each check's result, or 503 naming what failed (details only in the log).
    """
    checks: dict[str, dict[str, str]] = {}
    healthy = True
    for name, probe in (("database", selectors.database_ping), ("queue", queue_ping)):
        try:
            checks[name] = {"status": "ok", "backend": probe()}
        except Exception:  # any failure of the dependency means "not ready"
            logger.exception("readiness: %s unavailable", name)
            checks[name] = {"status": "unavailable"}
            healthy = False
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape. Off (404) until METRICS_TOKEN is set; then ``Authorization: Bearer
    <METRICS_TOKEN>`` is required: 401 without it, 403 with a wrong one."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404("metrics are off")
    given = bearer_token(request)
    if given is None:
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
