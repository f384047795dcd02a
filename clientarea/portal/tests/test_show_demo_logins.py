"""The demo logins that ``make run`` prints line up in columns."""

import io

from django.core.management import call_command


def test_the_demo_logins_are_printed_in_aligned_columns():
    out = io.StringIO()
    call_command("show_demo_logins", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if "@" in line]
    assert len(lines) == 4
    emails = {line.index("@") - len(line.split("@")[0].split()[-1]) for line in lines}
    assert len(emails) == 1, out.getvalue()  # every email starts in the same column


def test_run_prints_the_logins_once_the_worker_has_done_its_backlog(db, monkeypatch):
    """On a fresh `make run` the worker starts with the demo's queued emails, each printed on the
    console: the logins, printed two seconds after the start, scrolled out of sight under them."""
    from huey.contrib.djhuey import HUEY

    from clientarea.portal.management.commands import serve
    from clientarea.test import make_staff

    make_staff("soporte@conexcol.example")
    events: list[str] = []
    backlog = iter([5, 3, 0, 1, 0, 0, 0])  # an invoice's email queued after the first lull

    def pending_count() -> int:
        events.append("queue")
        return next(backlog, 0)

    class Process:
        def poll(self):
            return 0  # exits at once: the command stops right after printing

        def send_signal(self, sig):
            pass

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(HUEY, "pending_count", pending_count)
    monkeypatch.setattr(serve.subprocess, "Popen", lambda *args, **kwargs: Process())
    monkeypatch.setattr(serve.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(serve.signal, "signal", lambda *args: None)
    monkeypatch.setattr(serve, "call_command", lambda *args, **kwargs: events.append("logins"))
    call_command("serve", stdout=io.StringIO())
    assert events.count("queue") == 7 and events[-1] == "logins"
