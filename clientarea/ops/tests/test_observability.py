"""Health checks, the metrics endpoint, request ids (web and worker) and JSON log lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from huey import MemoryHuey

from clientarea.billing import services as billing
from clientarea.billing.models import BillingRun
from clientarea.catalog.models import Product, ProductPrice
from clientarea.notifications.models import OutgoingEmail
from clientarea.ops import request_id, sentry
from clientarea.ops.logs import RequestIdFilter
from clientarea.payments.models import PaymentMessage
from clientarea.test import make_customer, make_provider

TOKEN = "scrape-token-for-tests-0123456789"


def metric_lines(response) -> dict[str, float]:
    """``name{labels}`` → value, for every sample line of an exposition."""
    samples = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def python(code: str, env: dict[str, str], *, check: bool = False):
    """Run ``code`` in a fresh interpreter (our own, with the test's environment)."""
    command = [sys.executable, "-c", code]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=check)


# --- Health ------------------------------------------------------------------------------------


def test_liveness_answers_without_touching_the_database(client):
    # No database access is allowed in this test (no django_db mark): a query would fail it.
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readiness_checks_the_database_and_the_queue(client):
    from django.db import connection

    response = client.get("/healthz/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "backend": connection.vendor}
    assert body["checks"]["queue"]["status"] == "ok"
    # The old endpoint keeps answering as before.
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db
def test_readiness_is_503_when_the_database_is_down(client, caplog):
    from django.db import connection

    with mock.patch.object(connection, "cursor", side_effect=OSError("connection refused")):
        response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "unavailable"}
    assert body["checks"]["queue"]["status"] == "ok"
    assert "connection refused" not in response.content.decode()  # details only in the log
    assert "readiness: database unavailable" in caplog.text


@pytest.mark.django_db
def test_readiness_is_503_when_the_queue_is_unreachable(client):
    from huey.contrib.djhuey import HUEY

    with mock.patch.object(HUEY, "pending_count", side_effect=ConnectionError("redis is down")):
        response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"] == {"status": "unavailable"}


def test_health_checks_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/help/").status_code == 301  # everything else still is


def test_readiness_refuses_other_methods(client):
    assert client.post("/healthz/live").status_code == 405


# --- Metrics: who may scrape --------------------------------------------------------------------


def test_metrics_are_off_until_a_token_is_set(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_want_the_right_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ñandú").status_code == 403
    assert b"clientarea_" not in client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").content


def test_the_token_is_compared_in_constant_time(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    with mock.patch("clientarea.ops.views.hmac.compare_digest", return_value=False) as compare:
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    compare.assert_called_once_with(TOKEN.encode(), TOKEN.encode())


# --- Metrics: what they say ---------------------------------------------------------------------


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return metric_lines(response)

    return get


@pytest.mark.django_db
def test_metrics_count_the_work_waiting_and_done(scrape, django_capture_on_commit_callbacks):
    make_provider()
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label="m.co"
    )
    with django_capture_on_commit_callbacks(execute=False):  # the worker never ran
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card"
        )
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    OutgoingEmail.objects.update(created_at=hour_ago)
    OutgoingEmail.objects.create(
        to_email="x@example.com",
        subject="s",
        template="t",
        language="es",
        body_text="b",
        status="failed",
    )
    for gateway, result, processed in [
        ("payu", "applied", True),
        ("payu", "applied", True),
        ("payu", "refund", True),
        ("payvalida", "applied", True),
        ("payvalida", "review", True),
        ("payvalida", "duplicate", True),
        ("payu", "", False),
    ]:
        PaymentMessage.objects.create(
            gateway=gateway,
            kind="confirmation",
            result=result,
            outcome=f"{result}: details",
            processed=processed,
            received_at=hour_ago,
        )
    BillingRun.objects.create(
        run_date=dt.date(2026, 3, 1),
        status="running",
        counts={"orders_examined": 500, "customers": 20},
    )
    BillingRun.objects.create(run_date=dt.date(2026, 3, 2), dry_run=True, status="done")

    m = scrape()

    assert m["clientarea_database_up"] == 1
    assert m["clientarea_emails_pending"] >= 1
    assert m["clientarea_emails_failed"] == 1
    assert m['clientarea_outbox_pending{queue="email"}'] == m["clientarea_emails_pending"]
    assert 3500 < m['clientarea_outbox_oldest_age_seconds{queue="email"}'] < 3700
    assert m['clientarea_outbox_pending{queue="invoice"}'] == 1
    assert m['clientarea_invoices_waiting_for_dian{stage="not_numbered"}'] == 1  # no resolution
    assert m['clientarea_invoices_waiting_for_dian{stage="not_transmitted"}'] == 0
    assert m['clientarea_outbox_pending{queue="payment_message"}'] == 1
    assert 3500 < m['clientarea_outbox_oldest_age_seconds{queue="payment_message"}'] < 3700
    assert m['clientarea_payments_applied_total{gateway="payu"}'] == 2
    assert m['clientarea_payments_applied_total{gateway="payvalida"}'] == 1
    assert m['clientarea_payment_messages_total{result="applied"}'] == 3
    assert m['clientarea_payment_messages_total{result="refund"}'] == 1
    assert m['clientarea_payment_messages_total{result="review"}'] == 1
    assert m['clientarea_payment_messages_total{result="duplicate"}'] == 1
    assert m['clientarea_payment_messages_total{result="none"}'] == 1
    # The latest real run, not the dry run after it.
    assert m['clientarea_billing_run_status{status="running"}'] == 1
    assert m['clientarea_billing_run_status{status="done"}'] == 0
    assert m['clientarea_billing_run_progress{count="orders_examined"}'] == 500
    assert "clientarea_billing_run_finished_timestamp_seconds" not in m
    assert m["clientarea_queue_up"] == 1
    assert m["clientarea_queue_pending_tasks"] == 0


@pytest.mark.django_db
def test_metrics_observe_request_latency_by_view_and_method(client, scrape):
    before = scrape().get(
        'clientarea_http_request_duration_seconds_count{method="GET",view="ops:live"}', 0
    )
    client.get("/healthz/live")
    client.get("/healthz/live")
    client.get("/no/such/page/")
    m = scrape()
    assert (
        m['clientarea_http_request_duration_seconds_count{method="GET",view="ops:live"}']
        == before + 2
    )
    assert (
        m[
            'clientarea_http_request_duration_seconds_bucket{le="+Inf",method="GET",view="unmatched"}'
        ]
        >= 1
    )
    assert m['clientarea_http_responses_total{method="GET",status="404",view="unmatched"}'] >= 1


def test_static_files_are_one_label_not_one_per_path(rf):
    from clientarea.ops.metrics import view_label

    assert view_label(rf.get("/static/css/app.css")) == "static"
    assert view_label(rf.get("/static/js/x.js")) == "static"
    assert view_label(rf.get("/wp-login.php")) == "unmatched"


@pytest.mark.django_db
def test_a_scrape_answers_when_the_database_does_not(scrape, caplog):
    with mock.patch(
        "clientarea.ops.selectors.email_backlog", side_effect=OSError("database is gone")
    ):
        m = scrape()
    assert m["clientarea_database_up"] == 0
    assert "clientarea_emails_pending" not in m
    assert m["clientarea_queue_up"] == 1
    assert "database figures could not be read" in caplog.text


@pytest.mark.django_db
def test_metrics_add_up_the_request_counts_of_several_processes(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR (several gunicorn workers), a scrape sees every process."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    observe = (
        "import django; django.setup()\n"
        "from clientarea.ops import metrics\n"
        "metrics.observe_request(view='ops:live', method='GET', status=200, seconds=0.01)\n"
        "import sys; sys.stdout.write(metrics.request_metrics().decode())\n"
    )
    env["DJANGO_SETTINGS_MODULE"] = "clientarea.settings_test"
    outputs = [python(observe, env, check=True).stdout for _ in range(2)]
    assert (
        'clientarea_http_request_duration_seconds_count{method="GET",view="ops:live"} 2.0'
        in outputs[-1]
    )


# --- Request ids --------------------------------------------------------------------------------


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/healthz/live"), client.get("/healthz/live")
    assert request_id.SANE.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(client):
    kept = client.get("/healthz/live", HTTP_X_REQUEST_ID="edge-7f3a.91:2")
    assert kept["X-Request-ID"] == "edge-7f3a.91:2"
    for strange in ["x" * 101, "a b", "id\nInjected: 1", "<script>", "ñ"]:
        replaced = client.get("/healthz/live", HTTP_X_REQUEST_ID=strange)
        assert replaced["X-Request-ID"] != strange
        assert request_id.SANE.fullmatch(replaced["X-Request-ID"])


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_id(client):
    from django.db import connection

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("clientarea.ops.views")
    logger.addHandler(handler)
    try:
        with mock.patch.object(connection, "cursor", side_effect=OSError("down")):
            response = client.get("/healthz/ready", HTTP_X_REQUEST_ID="req-42")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "req-42"
    assert [getattr(r, "request_id", "absent") for r in records] == ["req-42"]
    assert request_id.get() is None  # reset after the request


def test_a_job_queued_during_a_request_runs_under_its_request_id():
    """What the worker does: the task goes through storage and runs in another thread."""
    queue = MemoryHuey("request-id-test", immediate=False, results=True)
    request_id.connect_task_queue(queue)
    seen: list[str | None] = []

    @queue.task()
    def job():
        seen.append(request_id.get())
        follow_up()

    @queue.task()
    def follow_up():
        seen.append(request_id.get())

    token = request_id.current.set("req-77")
    try:
        result = job()
    finally:
        request_id.current.reset(token)
    assert result.id.startswith("req-77~")

    def worker():
        while (task := queue.dequeue()) is not None:
            queue.execute(task)
        seen.append(request_id.get())  # after the jobs, the thread's own id is back

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == ["req-77", "req-77", None]


def test_a_job_queued_outside_a_request_runs_under_its_own_task_id():
    queue = MemoryHuey("request-id-test-2", immediate=False)
    request_id.connect_task_queue(queue)
    seen: list[str | None] = []

    @queue.task()
    def job():
        seen.append(request_id.get())

    result = job()
    queue.execute(queue.dequeue())
    assert seen == [result.id]
    assert request_id.get() is None


# --- Log format --------------------------------------------------------------------------------


def test_json_log_lines_carry_time_level_logger_message_and_request_id():
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": "clientarea.ops.logs.RequestIdFilter"}},
            "formatters": {"json": django_settings.LOG_FORMATTERS["json"]},
            "handlers": {
                "test": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "json",
                    "filters": ["request_id"],
                }
            },
            "loggers": {"clientarea.test.json": {"handlers": ["test"], "propagate": False}},
        }
    )
    logger = logging.getLogger("clientarea.test.json")
    logger.setLevel(logging.INFO)
    token = request_id.current.set("req-json-1")
    try:
        logger.info("payment %s applied", "PAY-1", extra={"order": "ODS-9"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("it failed")
    finally:
        request_id.current.reset(token)
    logger.warning("outside any request")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "payment PAY-1 applied"
    assert first["level"] == "INFO"
    assert first["logger"] == "clientarea.test.json"
    assert first["request_id"] == "req-json-1"
    assert first["order"] == "ODS-9"
    assert dt.datetime.fromisoformat(first["time"]).utcoffset() == dt.timedelta(0)
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc_info"]
    assert third["request_id"] is None


def test_log_format_is_checked_at_start(tmp_path):
    env = {
        **os.environ,
        "LOG_FORMAT": "xml",
        "SECRET_KEY": "x",
        "VAR_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = python("import clientarea.settings", env)
    assert done.returncode != 0
    assert "LOG_FORMAT must be plain or json, not 'xml'" in done.stderr
    env["LOG_FORMAT"] = "json"
    assert python("import clientarea.settings", env).returncode == 0


# --- Error reporting -----------------------------------------------------------------------------


def test_sentry_is_set_up_without_personal_data_when_a_dsn_is_given(settings):
    settings.SENTRY_ENVIRONMENT = "production"
    settings.SENTRY_TRACES_SAMPLE_RATE = 0.1
    with mock.patch("sentry_sdk.init") as init:
        sentry.init_sentry(dsn="https://public@errors.example/1")
    kwargs = init.call_args.kwargs
    assert kwargs["dsn"] == "https://public@errors.example/1"
    assert kwargs["send_default_pii"] is False
    assert kwargs["environment"] == "production"
    assert kwargs["traces_sample_rate"] == 0.1
    assert [type(i).__name__ for i in kwargs["integrations"]] == ["DjangoIntegration"]


def test_the_app_sets_up_sentry_only_when_a_dsn_is_set(settings):
    from django.apps import apps

    config = apps.get_app_config("ops")
    with mock.patch("clientarea.ops.sentry.init_sentry") as init:
        settings.SENTRY_DSN = ""
        config.ready()
        init.assert_not_called()
        settings.SENTRY_DSN = "https://public@errors.example/1"
        config.ready()
        init.assert_called_once_with(dsn="https://public@errors.example/1")


def test_a_dsn_without_sentry_sdk_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'clientarea\[sentry\]'"):
        sentry.init_sentry(dsn="https://public@errors.example/1")


def test_sentry_sdk_is_optional():
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    dependencies = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "sentry" not in dependencies
    assert 'sentry = ["sentry-sdk' in pyproject
