"""Periodic jobs run once per slot of their schedule, however many workers queue them."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils.module_loading import autodiscover_modules
from huey import crontab
from huey.contrib.djhuey import HUEY

from clientarea.lib import periodic
from clientarea.lib.models import PeriodicRun

UTC = dt.UTC


def all_periodic_tasks() -> dict[str, Any]:
    """Every periodic task, found through Huey's public read_periodic over one whole day."""
    autodiscover_modules("tasks")  # what the worker imports at start
    found: dict[str, Any] = {}
    start = dt.datetime(2026, 1, 5)
    for minute in range(24 * 60):
        for task in HUEY.read_periodic(start + dt.timedelta(minutes=minute)):
            found.setdefault(f"{type(task).__module__}.{type(task).__name__}", task)
    return found


@pytest.mark.parametrize(
    ("schedule", "now", "slot"),
    [
        (crontab(minute="*"), dt.datetime(2026, 3, 2, 10, 9), dt.datetime(2026, 3, 2, 10, 9)),
        (crontab(minute="*/10"), dt.datetime(2026, 3, 2, 10, 9), dt.datetime(2026, 3, 2, 10, 0)),
        (crontab(minute="7"), dt.datetime(2026, 3, 2, 10, 6), dt.datetime(2026, 3, 2, 9, 7)),
        (
            crontab(hour="3", minute="40"),
            dt.datetime(2026, 3, 2, 2, 0),
            dt.datetime(2026, 3, 1, 3, 40),
        ),
    ],
)
def test_the_slot_is_the_latest_matching_minute(schedule, now, slot):
    """A copy that waited in the queue past its minute still counts for the slot it was queued for."""
    assert periodic.current_slot(schedule, now=now) == slot.replace(tzinfo=UTC)


@pytest.mark.django_db
def test_a_slot_is_claimed_once_and_old_runs_are_pruned():
    slot = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    old = PeriodicRun.objects.create(
        task="t", slot=slot - dt.timedelta(days=8), claimed_by="a", started_at=slot
    )
    first = periodic.claim_slot(task="t", slot=slot, claimed_by="a")
    assert first is not None
    assert periodic.claim_slot(task="t", slot=slot, claimed_by="b") is None
    assert periodic.claim_slot(task="other", slot=slot, claimed_by="b") is not None
    assert periodic.claim_slot(task="t", slot=slot + dt.timedelta(minutes=1), claimed_by="b")
    assert not PeriodicRun.objects.filter(pk=old.pk).exists()
    assert PeriodicRun.objects.get(pk=first.pk).claimed_by == "a"


@pytest.mark.django_db
def test_every_periodic_task_skips_a_slot_another_worker_claimed(caplog):
    """No periodic task escapes the claim (each was declared with ``lib.periodic.periodic_task``):
    with its current slot already taken, running it does nothing but log the skip."""
    tasks = all_periodic_tasks()
    assert len(tasks) >= 8
    now = periodic.scheduler_now()
    for name, task in tasks.items():
        slot = periodic.current_slot(type(task).validate_datetime.__get__(task), now=now)
        PeriodicRun.objects.create(task=name, slot=slot, claimed_by="other", started_at=slot)
    with caplog.at_level(logging.INFO, logger="clientarea.lib.periodic"):
        for task in tasks.values():
            assert task.execute() is None
    skipped = {r.args[0] for r in caplog.records if "skipped" in r.getMessage()}
    assert skipped == set(tasks)
    assert PeriodicRun.objects.filter(claimed_by="other").count() == len(tasks)
    assert not PeriodicRun.objects.exclude(claimed_by="other").exists()


@pytest.mark.django_db
def test_a_run_records_who_ran_it_and_how_it_ended(caplog):
    calls = []

    @periodic.periodic_task(crontab(minute="*"), label="test sweep")
    def sweep_for_test() -> str:
        calls.append(1)
        return "done"

    @periodic.periodic_task(crontab(minute="*"), label="test sweep")
    def failing_sweep_for_test() -> None:
        raise RuntimeError("boom")

    assert sweep_for_test.call_local() == "done"
    assert sweep_for_test.call_local() is None  # same minute: the second copy is skipped
    assert calls == [1]
    run = PeriodicRun.objects.get(task__endswith="sweep_for_test", succeeded=True)
    assert run.finished_at is not None
    assert run.claimed_by == periodic.worker_name()
    with pytest.raises(RuntimeError):
        failing_sweep_for_test.call_local()
    assert PeriodicRun.objects.get(task__endswith="failing_sweep_for_test").succeeded is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_slot_have_one_winner():
    slot = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    barrier = threading.Barrier(8)
    won: list[str] = []
    errors: list[Exception] = []

    def claim(name: str) -> None:
        try:
            barrier.wait()
            if periodic.claim_slot(task="t", slot=slot, claimed_by=name):
                won.append(name)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(won) == 1
    assert PeriodicRun.objects.get().claimed_by == won[0]


def test_every_periodic_job_has_a_name_for_people():
    """The back office listed runs as "clientarea.billing.tasks.resume_billing_runs_task"."""
    tasks = all_periodic_tasks()
    unnamed = sorted(name for name in tasks if not str(periodic.LABELS.get(name, "")).strip())
    assert unnamed == []


@pytest.mark.django_db
def test_the_periodic_job_runs_page_names_each_job_in_words(client, settings):
    from django.urls import reverse

    from clientarea.test import make_staff

    client.force_login(make_staff())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    slot = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    task = "clientarea.billing.tasks.resume_billing_runs_task"
    PeriodicRun.objects.create(task=task, slot=slot, claimed_by="vm:1", started_at=slot)
    page = client.get(reverse("admin:lib_periodicrun_changelist")).content.decode()
    assert "Reanudar ejecuciones de facturación interrumpidas" in page
    assert f'<code class="periodic-task">{task}</code>' in page
    filtered = client.get(reverse("admin:lib_periodicrun_changelist"), {"task": task})
    assert filtered.status_code == 200 and task in filtered.content.decode()
