"""Prometheus metrics (prometheus-client): request latency, and figures read at scrape time.

Two kinds:
- request latency and counts, observed in-process by ``middleware.RequestMetricsMiddleware``.
  Several gunicorn processes each keep their own; set ``PROMETHEUS_MULTIPROC_DIR`` (an empty
  directory, wiped at each start) and every process writes there, and the scrape adds them up
  (prometheus-client's multiprocess mode);
- everything else is read from the database and the queue at scrape time by the collectors
  below (cheap indexed counts), so the figures are the same whichever process answers, and
  nothing is lost when a process restarts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from clientarea.billing.models import BillingRunStatus
from clientarea.ops import selectors

logger = logging.getLogger(__name__)

# No "_created" series: they double the output and nothing here reads them.
disable_created_metrics()

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

# The request metrics live in their own registry (not the library's global one), so that the
# exposition holds exactly what is listed here.
REQUESTS = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "clientarea_http_request_duration_seconds",
    "Time from the first middleware to the response, by view name and method.",
    ["view", "method"],
    registry=REQUESTS,
)
RESPONSES = Counter(
    "clientarea_http_responses",
    "Responses, by view name, method and status code.",
    ["view", "method", "status"],
    registry=REQUESTS,
)


def view_label(request: HttpRequest) -> str:
    """The URL pattern's name (bounded), never the path (unbounded): ``static`` for static files
    (served before URL resolution), ``unmatched`` for a 404."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "static" if request.path.startswith(settings.STATIC_URL) else "unmatched"
    return match.view_name or "unnamed"


def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    REQUEST_LATENCY.labels(view=view, method=method).observe(seconds)
    RESPONSES.labels(view=view, method=method, status=str(status)).inc()


def _age_seconds(oldest: dt.datetime | None, now: dt.datetime) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


class DatabaseCollector(Collector):
    """Work waiting and work done, read from the database at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            families = list(self._families())
        except Exception:  # a scrape must answer even when the database does not
            logger.exception("metrics: the database figures could not be read")
            families = []
        yield GaugeMetricFamily(
            "clientarea_database_up",
            "1 when the database figures were read at this scrape, 0 when that failed (see the logs).",
            value=1 if families else 0,
        )
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = timezone.now()
        emails = selectors.email_backlog()
        invoices = selectors.invoice_backlog()
        inbox = selectors.payment_message_backlog()

        pending = GaugeMetricFamily(
            "clientarea_outbox_pending",
            "Items waiting in an outbox: emails to deliver, invoices with work left (number, "
            "rendering, email, transmission), gateway messages not applied yet.",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "clientarea_outbox_oldest_age_seconds",
            "Age of the oldest item waiting in each outbox (0 when it is empty).",
            labels=["queue"],
        )
        for name, backlog in (("email", emails), ("invoice", invoices), ("payment_message", inbox)):
            pending.add_metric([name], backlog.pending)
            oldest.add_metric([name], _age_seconds(backlog.oldest, now))
        yield pending
        yield oldest

        yield GaugeMetricFamily(
            "clientarea_emails_pending", "Emails queued or being sent.", value=emails.pending
        )
        yield GaugeMetricFamily(
            "clientarea_emails_failed",
            "Emails that failed for good (after EMAIL_MAX_ATTEMPTS).",
            value=selectors.emails_failed(),
        )

        dian = GaugeMetricFamily(
            "clientarea_invoices_waiting_for_dian",
            "Electronic invoices DIAN has not accepted, by stage: not_numbered (no valid "
            "resolution or missing data), not_transmitted, awaiting_answer, rejected.",
            labels=["stage"],
        )
        for stage, count in selectors.invoices_waiting_for_dian().items():
            dian.add_metric([stage], count)
        yield dian

        messages = CounterMetricFamily(
            "clientarea_payment_messages",
            "Gateway messages stored in the payments inbox, by result (none: not applied yet).",
            labels=["result"],
        )
        for result, count in sorted(selectors.payment_message_results().items()):
            messages.add_metric([result], count)
        yield messages
        applied = CounterMetricFamily(
            "clientarea_payments_applied",
            "Gateway messages that marked an order paid, by gateway.",
            labels=["gateway"],
        )
        for gateway, count in sorted(selectors.payments_applied().items()):
            applied.add_metric([gateway], count)
        yield applied

        yield from self._billing_run()

    def _billing_run(self) -> Iterator[GaugeMetricFamily]:
        run = selectors.last_billing_run()
        if run is None:
            return
        state = GaugeMetricFamily(
            "clientarea_billing_run_status",
            "The latest (not dry) billing run's state: 1 for its status, 0 for the others.",
            labels=["status"],
        )
        for status in BillingRunStatus.values:
            state.add_metric([status], 1 if run.status == status else 0)
        yield state
        yield GaugeMetricFamily(
            "clientarea_billing_run_started_timestamp_seconds",
            "When the latest billing run started (Unix time).",
            value=run.started_at.timestamp(),
        )
        if run.finished_at:
            yield GaugeMetricFamily(
                "clientarea_billing_run_finished_timestamp_seconds",
                "When the latest billing run finished (Unix time); absent while it runs.",
                value=run.finished_at.timestamp(),
            )
        progress = GaugeMetricFamily(
            "clientarea_billing_run_progress",
            "The latest billing run's counts so far (updated after each batch): orders "
            "examined, customers, orders created, emails queued, errors...",
            labels=["count"],
        )
        for key, value in sorted((run.counts or {}).items()):
            if isinstance(value, int | float):
                progress.add_metric([key], value)
        yield progress


class QueueCollector(Collector):
    """The task queue (Huey, on Redis or SQLite): tasks waiting to run, and scheduled ones."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from huey.contrib.djhuey import HUEY

        help_text = (
            "1 when the task queue answered at this scrape, 0 when it did not (see the logs)."
        )
        try:
            pending, scheduled = HUEY.pending_count(), HUEY.scheduled_count()
        except Exception:  # Redis (or the queue file) unreachable: say so, answer anyway
            logger.exception("metrics: the task queue could not be read")
            yield GaugeMetricFamily("clientarea_queue_up", help_text, value=0)
            return
        yield GaugeMetricFamily("clientarea_queue_up", help_text, value=1)
        yield GaugeMetricFamily(
            "clientarea_queue_pending_tasks", "Tasks waiting for a worker.", value=pending
        )
        yield GaugeMetricFamily(
            "clientarea_queue_scheduled_tasks",
            "Tasks scheduled for later (retries, delayed jobs).",
            value=scheduled,
        )


def request_metrics() -> bytes:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(REQUESTS)


def exposition() -> tuple[bytes, str]:
    """The whole scrape: request metrics, then the figures read now. Body and content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    registry.register(QueueCollector())
    return request_metrics() + generate_latest(registry), CONTENT_TYPE_LATEST
