"""Request id and request latency, for every request (first in ``settings.MIDDLEWARE``)."""

from __future__ import annotations

import time

from clientarea.ops import metrics, request_id


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` (from the proxy) or makes one, sets it for the log lines of
    this request and the jobs it queues, and returns it in the response's ``X-Request-ID``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        value = request_id.accept_or_make(request.headers.get(request_id.HEADER))
        request.request_id = value
        token = request_id.current.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.current.reset(token)
        response[request_id.HEADER] = value
        return response


class RequestMetricsMiddleware:
    """Observes each request's duration in the latency histogram, by view name and method."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.observe_request(
            view=metrics.view_label(request),
            method=request.method or "",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response
