"""`clientarea run`: gunicorn (web) and the Huey worker together; Ctrl-C stops both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from clientarea.accounts.models import User

#: At most this long, the logins wait for the worker to finish what was queued before it started.
STARTUP_WAIT = 30.0


def wait_for_queued_tasks(*, timeout: float = STARTUP_WAIT) -> None:
    """Return once the task queue has stayed empty for a second and a half, or after ``timeout``.

    On a fresh demo the worker starts with a backlog: the demo's emails (each printed on the
    console) and its invoices. Printed before them, the demo logins scrolled out of sight."""
    from huey.contrib.djhuey import HUEY

    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        try:
            pending = HUEY.pending_count()
        except Exception:  # the queue cannot be read: do not hold the start-up for it
            return
        quiet = quiet + 1 if pending == 0 else 0
        time.sleep(0.5)


def site_url_mismatch(*, site_url: str, bind: str, port: int) -> str:
    """A warning when ``SITE_URL`` is a local address on another port than the one served.

    The simulators' callbacks, the gateways' return links, the DIAN simulator's URL and the
    emails' links are built from ``SITE_URL``: served elsewhere, they point at nothing. A public
    ``SITE_URL`` (a proxy in front) is left alone. Empty when nothing is wrong."""
    parts = urlsplit(site_url)
    if parts.hostname not in {"127.0.0.1", "localhost", bind}:
        return ""
    if (parts.port or (443 if parts.scheme == "https" else 80)) == port:
        return ""
    return (
        f"SITE_URL is {site_url} but this server listens on port {port}: links, the payment "
        f"simulators and the DIAN simulator will point to the other port. Run "
        f"`clientarea init-local --port {port}` (or `PORT={port} make run`) to move them."
    )


class Command(BaseCommand):
    help = "Start the web server (gunicorn) and the task worker together, and stop both on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2"))
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start the task worker."
        )

    def handle(self, *args, **opts):
        python = sys.executable
        mismatch = site_url_mismatch(
            site_url=settings.SITE_URL, bind=opts["bind"], port=opts["port"]
        )
        if mismatch:
            self.stderr.write(self.style.WARNING(mismatch))
        web = [
            python,
            "-m",
            "gunicorn",
            "clientarea.wsgi:application",
            "--bind",
            f"{opts['bind']}:{opts['port']}",
            "--workers",
            str(opts["web_workers"]),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
            "--timeout",
            "60",
        ]
        env = dict(os.environ)
        metrics_dir = None
        if not env.get("PROMETHEUS_MULTIPROC_DIR") and opts["web_workers"] > 1:
            # Several gunicorn processes: each writes its request metrics here and /metrics adds
            # them up (prometheus-client's multiprocess mode); a fresh folder at every start.
            metrics_dir = tempfile.mkdtemp(prefix="clientarea-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        procs = [subprocess.Popen(web, env=env)]  # noqa: S603 (our own interpreter, fixed arguments)
        if not opts["no_worker"]:
            procs.append(subprocess.Popen([python, "-m", "clientarea.cli", "run_huey"]))  # noqa: S603
        url = f"http://{opts['bind']}:{opts['port']}"
        time.sleep(2)  # let gunicorn and the worker print their start-up lines first
        if not opts["no_worker"]:
            wait_for_queued_tasks()
        if User.objects.filter(email="soporte@conexcol.example").exists():
            call_command("show_demo_logins", stdout=self.stdout)
        simulators = f", simulators: {url}/sandbox/" if settings.PAYMENTS_SANDBOX else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"ClientArea is running at {url}  (back office: {url}/admin/{simulators})  Ctrl-C stops it."
            )
        )

        def stop(*_):
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        self.stdout.write("Stopped.")
