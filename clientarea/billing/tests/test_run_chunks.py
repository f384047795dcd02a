"""The billing run in chunks: coverage, claims and leases, resuming after a crash, progress."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
from decimal import Decimal

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from clientarea.billing import automation, run_chunks
from clientarea.billing.models import (
    BillingRun,
    BillingRunChunk,
    BillingRunStatus,
    ChunkStatus,
    Order,
    OrderItem,
)
from clientarea.billing.tests import make_product
from clientarea.catalog.models import BillingCycle
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import Service, ServiceStatus
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db

D = dt.date(2025, 3, 3)


@pytest.fixture
def due(db) -> list[Service]:
    """13 customers; 11 with one or two services due in the window, one not due, one without."""
    make_provider()
    hosting = make_product("hosting-pyme", prices={"monthly": "29000"})
    services = []
    for n in range(13):
        customer = make_customer(f"c{n}@example.com", document_number=f"10203040{n:02d}")
        if n == 12:
            continue  # no service at all
        count = 2 if n % 4 == 0 else 1
        for k in range(count):
            services.append(
                Service.objects.create(
                    customer=customer,
                    product=hosting,
                    cycle=BillingCycle.MONTHLY,
                    price=Decimal("29000"),
                    label=f"s{n}-{k}.co",
                    status=ServiceStatus.ACTIVE,
                    start_date=D - dt.timedelta(days=30),
                    next_due_date=D + dt.timedelta(days=(n % 5) + (40 if n == 11 else 0)),
                    anchor_day=3,
                )
            )
    window = D + dt.timedelta(days=15)
    return [s for s in services if s.next_due_date is not None and s.next_due_date <= window]


def items_per_service() -> dict[int, int]:
    return dict(
        OrderItem.objects.order_by()
        .values("service_id")
        .annotate(n=Count("pk"))
        .values_list("service_id", "n")
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 50])
def test_chunks_cover_every_due_service_exactly_once(due, chunk_size):
    run = automation.run_billing(run_date=D, chunk_size=chunk_size, batch_size=2)

    assert run.status == BillingRunStatus.DONE
    assert items_per_service() == {s.pk: 1 for s in due}
    customers = {s.customer_id for s in due}
    assert Order.objects.count() == len(customers) == run.counts["orders_created"]
    assert run.counts["services_billed"] == len(due)
    assert OutgoingEmail.objects.filter(template="order_created").count() == len(customers)
    # The ranges tile the customer ids: contiguous, no overlap, the last one open-ended.
    chunks = list(run.chunks.order_by("position"))
    assert all(c.status == ChunkStatus.DONE and c.attempts == 1 for c in chunks)
    assert chunks[0].after_id == 0 and chunks[-1].last_id is None
    assert all(a.last_id == b.after_id for a, b in itertools.pairwise(chunks))
    assert sum(c.customers for c in chunks) == 13


def test_a_chunk_processed_twice_bills_each_service_once(due):
    run = automation.run_billing(run_date=D, chunk_size=4)
    first = items_per_service()
    # As if every chunk's worker had died before recording anything: all processed again.
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING, counts={})
    BillingRunChunk.objects.filter(run=run).update(
        status=ChunkStatus.PENDING, cursor=None, dunning_done=False, counts={}
    )

    again = automation.work_on_run(run_id=run.pk)

    assert again.run is not None and again.run.status == BillingRunStatus.DONE
    assert items_per_service() == first == {s.pk: 1 for s in due}
    assert again.run.counts["orders_created"] == 0  # the second pass found everything billed
    assert OutgoingEmail.objects.count() == len({s.customer_id for s in due})


class Killed(BaseException):
    """Stands for SIGKILL: the process stops, writing nothing more."""


def test_a_run_resumes_after_its_worker_died_mid_chunk(due, monkeypatch):
    real_renew = automation._renew
    calls = []

    def dies_on_the_second_batch(run_, work):
        calls.append(len(work))
        if len(calls) == 2:
            raise Killed
        real_renew(run_, work)

    monkeypatch.setattr(automation, "_renew", dies_on_the_second_batch)
    monkeypatch.setattr(run_chunks, "finish_chunk", lambda **kwargs: True)  # a dead process
    monkeypatch.setattr(automation, "_fail_run", lambda *args: None)  # writes nothing
    record = automation.start_run(run_date=D, chunk_size=50)
    with pytest.raises(Killed):
        automation.work_on_run(run_id=record.pk, batch_size=3)
    monkeypatch.undo()

    chunk = BillingRunChunk.objects.get(run=record)
    assert chunk.status == ChunkStatus.RUNNING and chunk.attempts == 1
    assert chunk.cursor is not None and chunk.counts["orders_created"] == 3  # first batch kept
    # Another worker finds the chunk held: nothing to claim until the lease expires.
    waiting = automation.work_on_run(run_id=record.pk)
    assert waiting.run is None and waiting.check_again_at == chunk.lease_until
    BillingRunChunk.objects.filter(pk=chunk.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )

    done = automation.work_on_run(run_id=record.pk, batch_size=3)

    assert done.run is not None and done.run.status == BillingRunStatus.DONE
    chunk.refresh_from_db()
    assert chunk.attempts == 2 and chunk.status == ChunkStatus.DONE
    assert items_per_service() == {s.pk: 1 for s in due}
    customers = len({s.customer_id for s in due})
    # Resumed after the cursor: the counts are exact, not just the orders.
    assert done.run.counts["orders_created"] == customers == Order.objects.count()
    assert done.run.counts["customers"] == customers


def test_a_worker_that_lost_its_lease_stops_and_the_new_holder_finishes(due):
    record = automation.start_run(run_date=D, chunk_size=50)
    stale = run_chunks.claim_chunk(run_id=record.pk, worker="old")
    assert stale is not None
    BillingRunChunk.objects.filter(pk=stale.chunk.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    fresh = run_chunks.claim_chunk(run_id=record.pk, worker="new")
    assert fresh is not None and fresh.token == stale.token + 1
    assert run_chunks.claim_chunk(run_id=record.pk, worker="third") is None  # held, lease valid

    assert not run_chunks.record_progress(claim=stale, counts={}, errors=[], cursor=5)
    assert not run_chunks.finish_chunk(claim=stale, counts={}, errors=[])
    assert run_chunks.finish_chunk(claim=fresh, counts={"orders_created": 0}, errors=[])


def test_a_chunk_that_fails_as_a_whole_fails_the_run_and_stops_the_others(due, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(automation, "renewal_batches", broken)
    with pytest.raises(ConnectionError):
        automation.run_billing(run_date=D, chunk_size=4)
    run = BillingRun.objects.get()
    assert run.status == BillingRunStatus.FAILED and run.finished_at
    assert run.chunks.filter(status=ChunkStatus.FAILED).count() == 1
    assert run.chunks.filter(status=ChunkStatus.PENDING).count() == 3
    monkeypatch.undo()
    assert run_chunks.claim_chunk(run_id=run.pk, worker="late") is None  # a failed run stops
    result = automation.work_on_run(run_id=run.pk)
    assert result.run is not None and result.run.status == BillingRunStatus.FAILED
    assert result.chunks_done == 0 and not Order.objects.exists()


def test_the_sweep_resumes_runs_and_finishes_orphans(due, monkeypatch):
    from clientarea.billing import tasks

    record = automation.start_run(run_date=D, chunk_size=4)
    BillingRun.objects.filter(pk=record.pk).update(
        started_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert run_chunks.runs_to_resume() == [record.pk]  # its jobs were never queued

    tasks.resume_billing_runs_task.call_local()  # the jobs run inline in tests

    record.refresh_from_db()
    assert record.status == BillingRunStatus.DONE
    assert items_per_service() == {s.pk: 1 for s in due}
    assert run_chunks.runs_to_resume() == []
    # A run whose chunks all ended but whose finisher died is finished by the sweep.
    orphan = automation.start_run(run_date=D, chunk_size=50)
    BillingRunChunk.objects.filter(run=orphan).update(
        status=ChunkStatus.DONE, counts={"orders_created": 7}
    )
    assert run_chunks.runs_to_resume() == [orphan.pk]
    assert automation.resume_runs(fan_out=tasks.fan_out) == [orphan.pk]  # the next minute
    orphan.refresh_from_db()
    assert orphan.status == BillingRunStatus.DONE and orphan.counts["orders_created"] == 7


def test_run_now_fans_the_chunks_out_to_the_workers(due):
    from clientarea.billing import tasks

    run_id = tasks.billing_run_task.call_local(run_date=D.isoformat(), triggered_by="staff:test")
    run = BillingRun.objects.get(pk=run_id)
    assert run.status == BillingRunStatus.DONE and run.counts["orders_created"] == 11
    assert items_per_service() == {s.pk: 1 for s in due}


def test_the_back_office_shows_a_running_runs_progress(due, client):
    client.cookies["django_language"] = "en"
    client.force_login(make_staff())
    record = automation.start_run(run_date=D, chunk_size=5)  # 3 chunks: 5, 5 and 3 customers
    claim = run_chunks.claim_chunk(run_id=record.pk, worker="host:123:4")
    assert claim is not None
    run_chunks.finish_chunk(claim=claim, counts={"orders_created": 4}, errors=[])
    run_chunks.claim_chunk(run_id=record.pk, worker="host:456:7")

    page = client.get(reverse("admin:billing_billingrun_change", args=[record.pk])).content
    text = page.decode()
    assert '<progress class="run-progress" value="1" max="3">33%</progress>' in text
    assert "1 of 3 chunks done (5 of 13 customers), 1 in progress, 0 failed" in text
    assert "host:456:7" in text  # the chunk in progress and its worker
    label = str(automation.COUNT_LABELS["orders_created"])
    assert f"<tr><td>{label}</td><td class='num'>4</td></tr>" in text  # counts so far
    listing = client.get(reverse("admin:billing_billingrun_changelist")).content.decode()
    assert "33%" in listing

    client.cookies["django_language"] = "es-co"
    spanish = client.get(reverse("admin:billing_billingrun_change", args=[record.pk]))
    assert "1 de 3 tramos terminados (5 de 13 clientes), 1 en curso, 0 fallidos" in (
        spanish.content.decode()
    )


def test_a_chunk_leaves_no_customers_behind_in_memory(due):
    """A chunk's customers (each a cycle with its user) are freed when the chunk ends, not at a
    rare full collection: a worker's memory does not grow with the number of chunks it works."""
    from clientarea.accounts.models import Customer

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is Customer)

    after_chunk: list[int] = []
    run = automation.run_billing(
        run_date=D, chunk_size=1, batch_size=1, progress=lambda *_: after_chunk.append(alive())
    )

    assert run.status == BillingRunStatus.DONE
    assert len(after_chunk) == BillingRunChunk.objects.filter(run=run).count() == 14
    assert max(after_chunk) == after_chunk[0]
