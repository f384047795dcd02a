"""`clientarea run` with several web processes gives them one metrics folder, fresh each start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from clientarea.portal.management.commands import serve


class FinishedProcess:
    """Stands in for gunicorn and the worker: already exited, so `run` stops at once."""

    calls: list[dict] = []

    def __init__(self, args, env=None, **kwargs):
        self.args = args
        env = env or {}
        folder = env.get("PROMETHEUS_MULTIPROC_DIR")
        FinishedProcess.calls.append(
            {"args": args, "dir": folder, "empty": folder and not os.listdir(folder)}
        )

    def poll(self):
        return 0

    def wait(self, timeout=None):
        return 0

    def send_signal(self, sig):
        pass


@pytest.fixture
def fake_processes(monkeypatch):
    FinishedProcess.calls = []
    monkeypatch.setattr(serve.subprocess, "Popen", FinishedProcess)
    monkeypatch.setattr(serve.time, "sleep", lambda seconds: None)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return FinishedProcess.calls


@pytest.mark.django_db
def test_several_web_processes_share_a_fresh_metrics_folder(fake_processes):
    call_command("serve", "--web-workers", "2", "--no-worker", "--port", "8123")
    (web,) = fake_processes
    assert "gunicorn" in web["args"]
    assert web["dir"] and web["empty"]
    assert not Path(web["dir"]).exists()  # removed when `run` stops


@pytest.mark.django_db
def test_one_web_process_or_an_operator_folder_is_left_alone(fake_processes, monkeypatch, tmp_path):
    call_command("serve", "--web-workers", "1", "--no-worker", "--port", "8123")
    assert fake_processes[0]["dir"] is None
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    call_command("serve", "--web-workers", "2", "--no-worker", "--port", "8123")
    assert fake_processes[1]["dir"] == str(tmp_path)
    assert tmp_path.exists()  # the operator's folder is theirs


@pytest.mark.django_db
def test_a_local_site_url_on_another_port_is_warned_about(fake_processes, settings, capsys):
    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("serve", "--web-workers", "1", "--no-worker", "--port", "8123")
    err = capsys.readouterr().err
    assert "SITE_URL is http://127.0.0.1:8000" in err
    assert "clientarea init-local --port 8123" in err


@pytest.mark.django_db
def test_the_served_port_or_a_public_site_url_is_not_warned_about(fake_processes, settings, capsys):
    settings.SITE_URL = "http://127.0.0.1:8123"
    call_command("serve", "--web-workers", "1", "--no-worker", "--port", "8123")
    settings.SITE_URL = "https://portal.conexcol.example"
    call_command("serve", "--web-workers", "1", "--no-worker", "--port", "8123")
    assert "SITE_URL" not in capsys.readouterr().err
