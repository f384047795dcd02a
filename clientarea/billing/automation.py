"""The daily billing run: renewal orders, reminders, suspension, termination, unpaid new orders.

    clientarea billing-run [--date YYYY-MM-DD] [--dry-run]    (and hourly by the worker: tasks.py)

For the run date D, with S, T, C, N, R the BILLING_* settings:

1. Unpaid new-service orders. A pending order that orders a service still
   pending activation, issued C days ago or more (CANCEL_UNPAID_NEW_AFTER_DAYS),
   is cancelled with the reason "Not paid C days after issue". ``cancel_order``
   cancels the pending services and sends "order_cancelled".
2. Termination. A service is *overdue* while a pending order bills its current
   period (item period start == service.next_due_date). Once that order is T
   days past its due date (TERMINATE_AFTER_DAYS), its active and
   overdue-suspended services are terminated. The order is cancelled with the
   reason "Not paid T days after due" and "service_terminated" is sent.
3. Suspension. Once the order is S days past due (SUSPEND_AFTER_DAYS), its
   active services are suspended (reason overdue) and "service_suspended" is
   sent. Payment lifts it: ``mark_order_paid`` renews and unsuspends. Manual
   suspensions are never touched. A service that staff unsuspended by hand
   after the order fell due is not suspended again for that order.
4. Reminders. Each pending order gets at most one email per stage: "before"
   (R days before due, REMINDER_DAYS_BEFORE), "due" (on the due date), then
   "overdue-1", "overdue-2"... on each day in OVERDUE_NOTICE_DAYS after due. A
   stage's key goes into ``Order.reminders_sent`` under the order's row lock,
   so it is sent once even by concurrent runs. No back-fill: a run sends only
   the latest stage that has begun, and only up to REMINDER_LATE_DAYS after its
   day (a run that was down for a week does not send a week-old "due today").
   No reminder goes out on the order's issue day, because the order email has
   just said it all. When the same run suspends the order's services, the
   suspension email serves as that day's notice.
5. Renewal. Active and overdue-suspended services (not one-time) whose next
   due date is at most N days away (RENEWAL_DAYS_BEFORE), and whose current
   period no live order bills yet, are billed. One order per customer per run
   holds all of that customer's due services. An item's period is
   next_due_date → +1 cycle (anchor day kept), its description is
   "<product> · <label> (renewal)", its price the service's price, and its tax
   the product's; each option the customer chose (subscriptions.ServiceOption, read once per
   batch) adds a line, quantity × the unit price kept on the service; a recurring coupon
   kept on the service takes its discount off those lines. The order is issued on D and due on the earliest next due
   date of its items, but never before D. (Catch-up after downtime, or a period
   re-billed after its order was cancelled: the customer then gets the whole
   grace period from the day they are told.) The customer gets the
   "order_created" email with the Pay now link.

Safety:
* Idempotent. The same day twice is a no-op: periods already billed are
  skipped, reminder keys are recorded, and service states are checked.
* Concurrent runs. A period is billed at most once, because of the unique
  ``OrderItem.period_key`` (cleared when an order is cancelled). A batch whose
  bulk insert hits the constraint is redone customer by customer, each in a
  savepoint, and the periods billed meanwhile are skipped. Dunning locks the
  order row, then its services, in the same order as ``mark_order_paid``.
* Failures. Each customer's (or order's) work runs in its own transaction. An
  exception is recorded (customer id, action, message) and the run goes on.
  The BillingRun row keeps the date, counts, errors and status.
* Dry run. The same code runs, but every transaction is rolled back: no order,
  email or state change, only the counts (and a BillingRun with dry_run=True).
* Across workers. A run is planned once (``start_run``: the run record and its
  chunks, customer-id ranges of ``run_chunks.CHUNK_SIZE`` customers); then any
  number of processes and threads claim chunks with a lease and work them
  (``work_on_run``; the worker queues several copies, tasks.py). Each chunk
  does steps 1 to 5 above for its own customers, dunning first. A chunk whose
  worker died is taken over when its lease expires and resumes after its last
  committed batch; the one who finishes the last chunk adds up the counts. See
  run_chunks.py.
* Memory. A chunk reads its customers' services in one query; only one chunk's
  services and orders are in memory, and they are freed when the chunk ends (a
  garbage collection per chunk: see ``_fewer_collections``), so a worker's memory
  does not grow with the number of customers. The plan holds chunk boundaries
  only (one keyset query per chunk). Renewal orders, items, events, ledger
  charges and emails are inserted per batch (BATCH_SIZE customers) by
  billing.services.create_orders. See run_emails.py for the email stencil.

Why one file: the numbered rules above are the run's specification, and the code below follows
them in the same order (rules and queries, the run and its batches, then steps 1 to 5), so each
rule can be checked against its code without leaving the module. Every step shares the run's
state (``_Run``: counts, errors, dry-run rollback, the product, description and pay-URL caches,
the email renderer) and the same lock order (order row, then its services). The seam, if it
grows: the emails and notices (``reminder_stage``, ``_remind``, ``_queue_service_email``,
``PayUrls``) apart from the order and service steps.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
import threading
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from clientarea.accounts.models import Customer
from clientarea.accounts.selectors import get_provider
from clientarea.billing import cancellations, planchanges, run_chunks
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing
from clientarea.billing.descriptions import LineDescriptions, LineTexts, customer_language
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import (
    BillingRun,
    BillingRunStatus,
    ItemKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderItem,
    OrderState,
)
from clientarea.billing.run_emails import OrderEmailRenderer, attach_items, build_email, save_emails
from clientarea.catalog.models import BillingCycle, Product
from clientarea.catalog.pricing import coupon_label, line_discounts
from clientarea.lib.dates import BOGOTA, local_now, local_today
from clientarea.lib.money import ZERO, quantize
from clientarea.lib.periodic import worker_name
from clientarea.subscriptions import services as lifecycle
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import (
    CancellationRequest,
    CancellationStatus,
    Service,
    ServiceEvent,
    ServiceEventKind,
    ServiceOption,
    ServiceStatus,
    SuspensionReason,
)
from clientarea.subscriptions.services import notify_services_changed

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
REMINDER_LATE_DAYS = 2
MAX_ERRORS_KEPT = 1000  # the BillingRun row stays small; counts["errors"] has the full number
RENEWAL_REASON = EventText("renewal")

# The summary table, in this order (also the keys of BillingRun.counts).
COUNT_LABELS = {
    "orders_examined": gettext_lazy("Pending orders examined"),
    "customers": gettext_lazy("Customers with services to bill"),
    "orders_created": gettext_lazy("Renewal orders created"),
    "services_billed": gettext_lazy("Services billed"),
    "already_billed": gettext_lazy("Skipped: period already billed"),
    "reminders_before": gettext_lazy("Reminders before the due date"),
    "reminders_due": gettext_lazy("Due-today notices"),
    "reminders_overdue": gettext_lazy("Overdue notices"),
    "services_suspended": gettext_lazy("Services suspended"),
    "services_terminated": gettext_lazy("Services terminated"),
    "orders_cancelled_overdue": gettext_lazy("Orders cancelled (services terminated)"),
    "orders_cancelled_unpaid": gettext_lazy("Unpaid new-service orders cancelled"),
    "cancellations_done": gettext_lazy("Services ended at the customer's request"),
    "plan_changes_applied": gettext_lazy("Scheduled plan changes applied"),
    "plan_changes_expired": gettext_lazy("Unpaid plan changes cancelled"),
    "emails_queued": gettext_lazy("Emails queued"),
    "errors": gettext_lazy("Errors"),
}


@dataclass(frozen=True)
class Rules:
    """The BILLING_* settings, read once per run."""

    run_date: dt.date
    renewal_days_before: int
    reminder_days_before: int
    overdue_notice_days: tuple[int, ...]
    suspend_after_days: int
    terminate_after_days: int
    cancel_unpaid_new_after_days: int

    @classmethod
    def from_settings(cls, run_date: dt.date) -> Rules:
        return cls(
            run_date=run_date,
            renewal_days_before=settings.BILLING_RENEWAL_DAYS_BEFORE,
            reminder_days_before=settings.BILLING_REMINDER_DAYS_BEFORE,
            overdue_notice_days=tuple(
                sorted({d for d in settings.BILLING_OVERDUE_NOTICE_DAYS if d > 0})
            ),
            suspend_after_days=settings.BILLING_SUSPEND_AFTER_DAYS,
            terminate_after_days=settings.BILLING_TERMINATE_AFTER_DAYS,
            cancel_unpaid_new_after_days=settings.BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS,
        )

    def days(self, n: int) -> dt.date:
        return self.run_date + dt.timedelta(days=n)

    def stages(self) -> list[tuple[int, str]]:
        """(days after due, key) of each reminder stage, in order."""
        stages = [(-self.reminder_days_before, "before")] if self.reminder_days_before > 0 else []
        stages.append((0, "due"))
        stages += [(d, f"overdue-{i}") for i, d in enumerate(self.overdue_notice_days, start=1)]
        return stages


def reminder_stage(*, rules: Rules, due_date: dt.date, issue_date: dt.date) -> str | None:
    """The reminder an order should get on the run date, if any (see the module docstring)."""
    if rules.run_date <= issue_date:
        return None
    days = (rules.run_date - due_date).days
    started = [(start, key) for start, key in rules.stages() if start <= days]
    if not started:
        return None
    start, key = started[-1]
    return key if days - start <= REMINDER_LATE_DAYS else None


# --- Selection --------------------------------------------------------------------------


def due_services(rules: Rules) -> QuerySet[Service]:
    """Services to bill: due within the window, and no live order bills their current period."""
    billed = OrderItem.objects.filter(
        service=OuterRef("pk"), period_start=OuterRef("next_due_date"), period_key__isnull=False
    )
    cancelling = CancellationRequest.objects.filter(
        service=OuterRef("pk"), status=CancellationStatus.PENDING
    )
    return (
        Service.objects.filter(
            Q(status=ServiceStatus.ACTIVE)
            | Q(status=ServiceStatus.SUSPENDED, suspension_reason=SuspensionReason.OVERDUE)
        )
        .filter(next_due_date__lte=rules.days(rules.renewal_days_before))
        .exclude(cycle=BillingCycle.ONE_TIME)
        .exclude(Exists(billed))
        .exclude(Exists(cancelling))
    )


def actionable_orders(rules: Rules) -> QuerySet[Order]:
    """Pending orders that may need a reminder, a suspension, a termination or a cancellation."""
    return Order.objects.filter(state=OrderState.PENDING).filter(
        Q(due_date__lte=rules.days(rules.reminder_days_before))
        | Q(issue_date__lte=rules.days(-rules.cancel_unpaid_new_after_days))
    )


def is_renewable(service: Service, rules: Rules) -> bool:
    """``due_services`` in Python, for the services of a batch (test_billing_run checks they agree).

    A batch reads its customers' services by customer id only: without planner
    statistics, SQLite would otherwise walk the (status, next_due_date) index
    for every batch, which is quadratic over a run.
    """
    return (
        (
            service.status == ServiceStatus.ACTIVE
            or (
                service.status == ServiceStatus.SUSPENDED
                and service.suspension_reason == SuspensionReason.OVERDUE
            )
        )
        and service.cycle != BillingCycle.ONE_TIME
        and service.next_due_date is not None
        and service.next_due_date <= rules.days(rules.renewal_days_before)
    )


def period_key(service: Service) -> str:
    """The OrderItem.period_key of a service's current period (services.period_key_for)."""
    return f"{service.pk}:{_due(service).isoformat()}"


def _due(service: Service) -> dt.date:
    """The next due date of a service the run bills (renewable services always have one)."""
    if service.next_due_date is None:
        raise ValueError(f"service {service.pk} has no next due date")
    return service.next_due_date


def order_batches(rules: Rules, size: int, *, span: Q | None = None) -> Iterator[list[Order]]:
    """Actionable pending orders (of the customers in ``span``) in ascending id batches, with
    just what the pre-check needs."""
    orders = (
        actionable_orders(rules)
        .filter(span or Q())
        .order_by("pk")
        .only("pk", "customer_id", "issue_date", "due_date", "reminders_sent")
    )
    last = 0
    while True:
        batch = list(orders.filter(pk__gt=last)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


# --- The run ---------------------------------------------------------------------------------


@dataclass
class _Run:
    rules: Rules
    dry_run: bool
    record: BillingRun
    counts: Tally = field(default_factory=Tally)
    errors: list[dict] = field(default_factory=list)
    renderer: OrderEmailRenderer = field(default_factory=lambda: OrderEmailRenderer())
    products: dict[int, Product] = field(default_factory=dict)
    descriptions: LineDescriptions = field(default_factory=LineDescriptions)
    pay_url: PayUrls = field(default_factory=lambda: PayUrls())
    #: The current batch's chosen options per service (one query per batch).
    options: dict[int, list[ServiceOption]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.provider = get_provider()
        self.seller = billing.seller_snapshot(self.provider)

    def fail(self, customer_id: int | None, action: str, exc: BaseException) -> None:
        self.counts["errors"] += 1
        message = f"{type(exc).__name__}: {exc}"[:500]
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"customer": customer_id, "action": action, "message": message})
        logger.warning(
            "billing run %s: customer %s, %s failed: %s",
            self.rules.run_date,
            customer_id,
            action,
            message,
            exc_info=not isinstance(exc, IntegrityError),
        )

    def finish_atomic(self) -> None:
        """Called at the end of each unit of work: in a dry run, undo it."""
        if self.dry_run:
            transaction.set_rollback(True)


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Cheaper garbage collection while a run allocates its ~30 objects per service.

    With the default thresholds, CPython runs dozens of full collections during a
    large run, each walking the whole heap (all of Django), which is about a third
    of the run's CPU time. So the existing heap is collected once and frozen (left out
    of collections) and gen-0 collections happen every 10,000 allocations. The
    settings are restored when the last concurrent run in this process ends.

    With these thresholds a full collection is rare, and a chunk leaves cyclic garbage
    that only a full collection frees (each customer read with its user is a cycle:
    Django caches the one-to-one both ways). ``work_on_run`` therefore collects after
    every chunk (``_collect_chunk``): the heap outside the frozen part is little more than
    that chunk's garbage, so this costs milliseconds, and a worker's memory is the same
    after its 500th chunk as after its first.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.collect()  # not to freeze garbage left by earlier work
            gc.freeze()
            gc.set_threshold(10_000, 10, 100)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def _collect_chunk() -> None:
    """A finished chunk's cyclic garbage, freed now (see ``_fewer_collections``)."""
    gc.collect()


def run_billing(
    *,
    run_date: dt.date | None = None,
    dry_run: bool = False,
    triggered_by: str = "cli",
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    chunk_size: int = run_chunks.CHUNK_SIZE,
) -> BillingRun:
    """Run the billing automation for ``run_date`` (default: today in Colombia) in this process.

    The run is planned (``start_run``), then this process works its chunks until every one
    is done (waiting, if another process holds one, until that one is done or its lease
    expires). Returns the BillingRun (status done, or errors if some customers failed). An
    exception that stops the whole run marks it failed and is re-raised. ``progress(done,
    total)`` is called after each chunk, in customers.
    """
    with _fewer_collections():
        record = start_run(
            run_date=run_date, dry_run=dry_run, triggered_by=triggered_by, chunk_size=chunk_size
        )
        while True:
            result = work_on_run(run_id=record.pk, batch_size=batch_size, progress=progress)
            if result.run is not None:
                return result.run
            time.sleep(_seconds_until(result.check_again_at))


def start_run(
    *,
    run_date: dt.date | None = None,
    dry_run: bool = False,
    triggered_by: str = "cli",
    chunk_size: int = run_chunks.CHUNK_SIZE,
) -> BillingRun:
    """Record a run and plan its chunks (the work of any number of processes, ``work_on_run``).

    Step 0 happens here, once: services whose cancellation (asked by the customer) takes
    effect today end now. A failure marks the run failed and is re-raised.
    """
    rules = Rules.from_settings(run_date or local_today())
    record = BillingRun.objects.create(
        run_date=rules.run_date, dry_run=dry_run, triggered_by=triggered_by[:40]
    )
    logger.info("billing run %s started (run %s, dry_run=%s)", rules.run_date, record.pk, dry_run)
    try:
        with transaction.atomic():
            planned: Tally = Tally()
            if not dry_run:
                planned["cancellations_done"] += cancellations.complete_due_cancellations(
                    today=rules.run_date
                )
                # Scheduled downgrades take effect; upgrade orders unpaid past due are cancelled.
                planned["plan_changes_applied"] += planchanges.apply_due_changes(
                    today=rules.run_date
                )
                planned["plan_changes_expired"] += planchanges.expire_unpaid_changes(
                    today=rules.run_date
                )
            chunks = run_chunks.plan_chunks(run=record, chunk_size=chunk_size)
            record.counts = {key: n for key, n in planned.items() if n}
            BillingRun.objects.filter(pk=record.pk).update(counts=record.counts)
    except BaseException as exc:
        _fail_run(record.pk, exc)
        raise
    logger.info("billing run %s: %d chunks of %d customers", record.pk, chunks, chunk_size)
    return record


@dataclass(frozen=True)
class WorkResult:
    """What ``work_on_run`` left: the run if it is over, else when to look again (a chunk is
    held by another worker until then), or neither (nothing left for anyone)."""

    run: BillingRun | None
    chunks_done: int
    check_again_at: dt.datetime | None


def work_on_run(
    *,
    run_id: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> WorkResult:
    """Claim and process the run's chunks one at a time until none is left to claim.

    Safe in any number of processes and threads at once (see run_chunks). The caller that
    finishes the last chunk writes the run's totals. A chunk that fails as a whole (not one
    customer: those are recorded and the chunk goes on) fails the run, and is re-raised.
    """
    worker = f"{worker_name()}:{threading.get_ident()}"
    done = 0
    with _fewer_collections():
        while True:
            record = BillingRun.objects.filter(pk=run_id).first()
            if record is None or record.status != BillingRunStatus.RUNNING:
                return WorkResult(run=record, chunks_done=done, check_again_at=None)
            claim = run_chunks.claim_chunk(run_id=run_id, worker=worker)
            if claim is None:
                break
            _process_chunk(record, claim, batch_size)
            _collect_chunk()
            done += 1
            if progress:
                state = run_chunks.progress(run_id)
                progress(state.customers_done, state.customers)
    finished = run_chunks.finish_run_if_done(run_id=run_id, keys=list(COUNT_LABELS))
    if finished is not None:
        _log_finished(finished)
        return WorkResult(run=finished, chunks_done=done, check_again_at=None)
    record = BillingRun.objects.get(pk=run_id)
    if record.status != BillingRunStatus.RUNNING:
        return WorkResult(run=record, chunks_done=done, check_again_at=None)
    return WorkResult(
        run=None, chunks_done=done, check_again_at=run_chunks.next_lease_expiry(run_id)
    )


def resume_runs(*, fan_out: Callable[[BillingRun], None]) -> list[int]:
    """The sweep: finish the runs whose chunks have all ended (their finisher died), and hand
    to ``fan_out`` the running runs with a chunk waiting (lost jobs) or under an expired lease
    (a dead worker). Returns their ids."""
    runs = run_chunks.runs_to_resume()
    for run_id in runs:
        finished = run_chunks.finish_run_if_done(run_id=run_id, keys=list(COUNT_LABELS))
        if finished is not None:
            _log_finished(finished)
            continue
        record = BillingRun.objects.get(pk=run_id)
        if record.status == BillingRunStatus.RUNNING:
            logger.info("billing run %s resumed by the sweep", run_id)
            fan_out(record)
    return runs


def _seconds_until(moment: dt.datetime | None) -> float:
    if moment is None:
        return 0.5
    return min(max((moment - timezone.now()).total_seconds() + 0.1, 0.1), 5.0)


def _log_finished(record: BillingRun) -> None:
    duration = (record.finished_at or timezone.now()) - record.started_at
    logger.info(
        "billing run %s finished in %.1f s: %s",
        record.run_date,
        duration.total_seconds(),
        record.counts,
    )


def _fail_run(run_id: int, exc: BaseException) -> None:
    """The whole run stops: its status says failed, with the error (and the chunks' counts)."""
    logger.exception("billing run %s failed", run_id)
    error = {"customer": None, "action": "run", "message": f"{type(exc).__name__}: {exc}"[:500]}
    try:
        record = BillingRun.objects.get(pk=run_id)
        counts, errors = run_chunks.chunk_totals(run_id)
        counts.update(record.counts or {})
        BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).update(
            status=BillingRunStatus.FAILED,
            counts={key: int(counts.get(key, 0)) for key in COUNT_LABELS},
            errors=[*errors, error][-MAX_ERRORS_KEPT:],
            finished_at=timezone.now(),
        )
    except Exception:  # e.g. the database itself is gone: keep the original error
        logger.exception("billing run %s: could not record the failure", run_id)


class _ChunkLost(Exception):
    """Another worker took this chunk over (our lease expired): stop, it carries on."""


@dataclass
class _Shared:
    """What a process's chunks of one run share: the email stencils and the lookup caches."""

    renderer: OrderEmailRenderer = field(default_factory=lambda: OrderEmailRenderer())
    products: dict[int, Product] = field(default_factory=dict)
    descriptions: LineDescriptions = field(default_factory=LineDescriptions)
    pay_url: PayUrls = field(default_factory=lambda: PayUrls())


_per_thread = threading.local()


def _shared(record: BillingRun) -> _Shared:
    """One ``_Shared`` per thread for the run it works on (the renderer is not thread-safe)."""
    key = (record.pk, record.started_at)
    current = getattr(_per_thread, "shared", None)
    if current is None or current[0] != key:
        current = _per_thread.shared = (key, _Shared())
    return current[1]


def _process_chunk(record: BillingRun, claim: run_chunks.Claim, batch_size: int) -> None:
    chunk = claim.chunk
    shared = _shared(record)
    run = _Run(
        rules=Rules.from_settings(record.run_date),
        dry_run=record.dry_run,
        record=record,
        counts=Tally(chunk.counts or {}),
        errors=list(chunk.errors or []),
        renderer=shared.renderer,
        products=shared.products,
        descriptions=shared.descriptions,
        pay_url=shared.pay_url,
    )
    span = Q(customer_id__gt=chunk.after_id)
    if chunk.last_id is not None:
        span &= Q(customer_id__lte=chunk.last_id)

    def saved(**fields) -> None:
        if not run_chunks.record_progress(
            claim=claim, counts=run.counts, errors=run.errors, **fields
        ):
            raise _ChunkLost

    try:
        # 1. Dunning, order by order: cancellations, terminations, suspensions, reminders. Before
        #    the renewals, so that a period freed by a cancelled order is seen by them.
        if not chunk.dunning_done:
            for orders in order_batches(run.rules, batch_size, span=span):
                _dun_batch(run, orders)
                run.counts["orders_examined"] += len(orders)
                saved()
            saved(dunning_done=True)
        # 2. Renewals: one order per customer, bulk-inserted per batch of customers, resumed
        #    after the last batch committed.
        after = chunk.cursor if chunk.cursor is not None else chunk.after_id
        for last, due in renewal_batches(run, after=after, last=chunk.last_id, size=batch_size):
            if due:
                _renew(run, due)
            run.counts["customers"] += len(due)
            saved(cursor=last)
    except _ChunkLost:
        logger.warning("billing run %s: chunk %s taken over by another worker", record.pk, chunk)
        return
    except BaseException as exc:
        run_chunks.finish_chunk(claim=claim, counts=run.counts, errors=run.errors, failed=True)
        _fail_run(record.pk, exc)
        raise
    run_chunks.finish_chunk(claim=claim, counts=run.counts, errors=run.errors)


class PayUrls:
    """``services.order_pay_url`` for thousands of orders: one reverse() per run, then a replace.

    Used only for plain ODS numbers (letters, digits, dashes: nothing to quote),
    and checked against the real function on the first order.
    """

    PLACEHOLDER = "ODS-0PLACEHOLDER0"
    PLAIN = re.compile(r"[A-Za-z0-9-]+")

    def __init__(self) -> None:
        self.template: str | None = None
        self.verified = False
        self.usable = True

    def __call__(self, order: Order) -> str:
        if not self.usable or not self.PLAIN.fullmatch(order.number):
            return billing.order_pay_url(order)
        if self.template is None:
            self.template = billing.order_pay_url(Order(number=self.PLACEHOLDER))
            self.usable = self.template.count(self.PLACEHOLDER) == 1
            if not self.usable:
                return billing.order_pay_url(order)
        url = self.template.replace(self.PLACEHOLDER, order.number)
        if not self.verified:
            real = billing.order_pay_url(order)
            self.usable = self.verified = url == real
            return real
        return url


def _dun_batch(run: _Run, orders: list[Order]) -> None:
    todo = [order for order in orders if _may_need_dunning(run.rules, order)]
    if not todo:
        return
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in={o.customer_id for o in todo}).select_related(
            "user"
        )
    }
    for order in todo:
        _dun_order(run, customers[order.customer_id], order)


def renewal_batches(
    run: _Run, *, after: int, last: int | None, size: int
) -> Iterator[tuple[int, list[tuple[Customer, list[Service]]]]]:
    """The due services of customers ``after < id <= last``, read in one query, grouped by
    customer, in batches of ``size`` customers: (last customer id of the batch, its work).

    The services are read by customer id range only and filtered in Python (``is_renewable``):
    without planner statistics, SQLite would otherwise walk the (status, next_due_date) index
    for every chunk, which is quadratic over a run.
    """
    span = Q(customer_id__gt=after)
    if last is not None:
        span &= Q(customer_id__lte=last)
    renewable = [
        s
        for s in Service.objects.filter(span)
        .select_related("coupon")
        .order_by("customer_id", "next_due_date", "pk")
        if is_renewable(s, run.rules)
    ]
    if not renewable:
        return
    owners = sorted({s.customer_id for s in renewable})
    leaving = cancellations.pending_cancellation_service_ids(customer_ids=owners)
    waiting, scheduled = planchanges.renewal_plans(customer_ids=owners)
    renewable = [
        planchanges.as_renewed(s, scheduled.get(s.pk))
        for s in renewable
        if s.pk not in leaving and s.pk not in waiting
    ]
    keys = [period_key(s) for s in renewable]
    billed = set(
        OrderItem.objects.filter(period_key__in=keys)
        .order_by()
        .values_list("period_key", flat=True)
    )
    due: dict[int, list[Service]] = defaultdict(list)
    for service in renewable:
        if period_key(service) not in billed:
            if service.pk not in scheduled:  # a scheduled change carries its new product
                service.product = _product(run, service.product_id)
            due[service.customer_id].append(service)
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=list(due)).select_related("user")}
    options: dict[int, list[ServiceOption]] = defaultdict(list)
    for option in ServiceOption.objects.filter(
        service_id__in=[s.pk for services in due.values() for s in services]
    ).order_by("service_id", "pk"):
        options[option.service_id].append(option)
    for services in due.values():
        for service in services:
            changed = planchanges.renewal_options(scheduled.get(service.pk), service)
            if changed is not None:  # an options change scheduled for this renewal
                options[service.pk] = changed
    for start in range(0, len(owners), size):
        batch = owners[start : start + size]
        run.options = options  # read by renewal_line through _plan
        yield batch[-1], [(customers[i], due[i]) for i in batch if i in due]


def _product(run: _Run, product_id: int) -> Product:
    if product_id not in run.products:
        run.products[product_id] = Product.objects.get(pk=product_id)
    return run.products[product_id]


# --- Dunning: cancel unpaid new orders, terminate, suspend, remind ------------------------------


@dataclass
class _OrderWork:
    """One pending order, locked, while its dunning steps run."""

    order: Order
    customer: Customer
    counts: Tally = field(default_factory=Tally)
    suspended_now: bool = False
    _items: list[OrderItem] | None = None
    _current: list[Service] | None = None

    @property
    def items(self) -> list[OrderItem]:
        if self._items is None:
            self._items = list(
                self.order.items.select_related("service__product").order_by("position", "pk")
            )
        return self._items

    def current_services(self) -> list[Service]:
        """The services whose current period this order bills, locked (order first, then services)."""
        if self._current is None:
            ids = [
                i.service_id
                for i in self.items
                if i.service_id and i.period_key and i.kind != ItemKind.SETUP_FEE
            ]
            # of=self: lock the services only, not the (shared) product rows joined for the emails.
            locked = {
                s.pk: s
                for s in Service.objects.select_for_update(of=("self",))
                .select_related("product")
                .filter(pk__in=ids)
            }
            self._current = [
                locked[i.service_id]
                for i in self.items
                if i.service_id in locked
                and i.period_key
                and locked[i.service_id].next_due_date == i.period_start
            ]
        return self._current

    def days_overdue(self, rules: Rules) -> int:
        return (rules.run_date - self.order.due_date).days


def _may_need_dunning(rules: Rules, order: Order) -> bool:
    """Cheap pre-check from the batch's read, so that idle orders take no lock. The steps re-check."""
    if order.issue_date <= rules.days(-rules.cancel_unpaid_new_after_days):
        return True
    if (rules.run_date - order.due_date).days >= rules.suspend_after_days:
        return True
    key = reminder_stage(rules=rules, due_date=order.due_date, issue_date=order.issue_date)
    return key is not None and key not in (order.reminders_sent or [])


def _dun_order(run: _Run, customer: Customer, order: Order) -> None:
    steps: Sequence[tuple[str, Callable[[_Run, _OrderWork], None]]] = (
        ("cancel_unpaid_new", _cancel_unpaid_new),
        ("terminate", _terminate),
        ("suspend", _suspend),
        ("remind", _remind),
    )
    action = "lock"
    try:
        with transaction.atomic():
            locked = (
                Order.objects.select_for_update()
                .filter(pk=order.pk, state=OrderState.PENDING)
                .first()
            )
            if locked is None:
                return  # paid or cancelled since the batch was read
            work = _OrderWork(order=locked, customer=customer)
            # All or nothing per order: a failing step undoes the others (no suspension
            # without its email); the next run tries again and the error is reported.
            for action, step in steps:  # noqa: B007 (action is read by the except clause below)
                step(run, work)
                if work.order.state != OrderState.PENDING:
                    break
            run.finish_atomic()
    except Exception as exc:
        run.fail(customer.pk, action, exc)
        return
    run.counts.update(work.counts)


def _cancel_unpaid_new(run: _Run, work: _OrderWork) -> None:
    days = run.rules.cancel_unpaid_new_after_days
    if work.order.issue_date > run.rules.days(-days):
        return
    new = [
        i
        for i in work.items
        if i.kind in (ItemKind.NEW_SERVICE, ItemKind.DOMAIN)
        and i.service is not None
        and i.service.status == ServiceStatus.PENDING
    ]
    if not new:
        return
    work.order = billing.cancel_order(
        order=work.order,
        reason=EventText("not_paid_after_issue", {"days": days}),
    )
    work.counts["orders_cancelled_unpaid"] += 1
    work.counts["emails_queued"] += 1


def _terminate(run: _Run, work: _OrderWork) -> None:
    days = run.rules.terminate_after_days
    if work.days_overdue(run.rules) < days:
        return
    targets = [
        s
        for s in work.current_services()
        if s.status == ServiceStatus.ACTIVE
        or (s.status == ServiceStatus.SUSPENDED and s.suspension_reason == SuspensionReason.OVERDUE)
    ]
    if not targets:
        return  # only manual suspensions (staff decide) or nothing of ours
    reason = EventText("not_paid_after_due", {"days": days})
    why = ServiceText("terminated_not_paid", {"days": days, "number": work.order.number})
    for service in targets:
        lifecycle.terminate_service(service=service, reason=why)
    work.order = billing.cancel_order(order=work.order, reason=reason, notify=False)
    _queue_service_email(run, work, template="service_terminated", services=targets, days=days)
    notify_services_changed(
        service_ids=[s.pk for s in targets],
        event="services.terminated",
        order_number=work.order.number,
    )
    work.counts["services_terminated"] += len(targets)
    work.counts["orders_cancelled_overdue"] += 1


def _suspend(run: _Run, work: _OrderWork) -> None:
    days = run.rules.suspend_after_days
    if work.days_overdue(run.rules) < days:
        return
    active = [s for s in work.current_services() if s.status == ServiceStatus.ACTIVE]
    if not active:
        return
    lifted = _lifted_by_staff(active, since=work.order.due_date)
    targets = [s for s in active if s.pk not in lifted]
    if not targets:
        return
    note = ServiceText("order_not_paid", {"number": work.order.number, "days": days})
    for service in targets:
        lifecycle.suspend_service(service=service, reason=SuspensionReason.OVERDUE, note=note)
    _queue_service_email(run, work, template="service_suspended", services=targets, days=days)
    notify_services_changed(
        service_ids=[s.pk for s in targets],
        event="services.suspended",
        order_number=work.order.number,
    )
    work.suspended_now = True
    work.counts["services_suspended"] += len(targets)


def _lifted_by_staff(services: list[Service], *, since: dt.date) -> set[int]:
    """Services a person unsuspended since the order fell due: staff chose to keep them running."""
    start = dt.datetime.combine(since, dt.time.min, tzinfo=BOGOTA)
    return set(
        ServiceEvent.objects.filter(
            service__in=services,
            kind=ServiceEventKind.UNSUSPENDED,
            actor__isnull=False,
            created_at__gte=start,
        ).values_list("service_id", flat=True)
    )


def _remind(run: _Run, work: _OrderWork) -> None:
    order = work.order
    key = reminder_stage(rules=run.rules, due_date=order.due_date, issue_date=order.issue_date)
    if key is None or key in (order.reminders_sent or []):
        return
    order.reminders_sent = [*(order.reminders_sent or []), key]
    Order.objects.filter(pk=order.pk).update(reminders_sent=order.reminders_sent)
    if work.suspended_now:
        # The suspension email (number, amount, Pay now) is today's notice: one email, not two.
        OrderEvent.objects.create(
            order=order,
            kind=OrderEventKind.REMINDER,
            message=key,
            data={"email": "service_suspended"},
        )
        return
    template = {"before": "order_reminder", "due": "order_due_today"}.get(key, "order_overdue")
    rules = run.rules
    context = {
        "order": attach_items(order, work.items),
        "customer": work.customer,
        "pay_url": billing.order_pay_url(order),
        "days_left": max((order.due_date - rules.run_date).days, 0),
        "days_overdue": max(work.days_overdue(rules), 0),
        "notice_number": int(key.split("-")[1]) if key.startswith("overdue-") else 0,
        "notice_total": len(rules.overdue_notice_days),
        "suspended": any(s.status == ServiceStatus.SUSPENDED for s in work.current_services()),
        "has_services": bool(work.current_services()),
        "suspend_date": order.due_date + dt.timedelta(days=rules.suspend_after_days),
        "terminate_date": order.due_date + dt.timedelta(days=rules.terminate_after_days),
        # What Pay now charges: the total less partial payments, credit applied and, for an
        # approved withholding agent, its withholdings (the emails said only the total).
        "due": billing_selectors.amount_to_charge([order]),
    }
    save_emails([build_email(customer=work.customer, template=template, context=context)])
    OrderEvent.objects.create(
        order=order, kind=OrderEventKind.REMINDER, message=key, data={"email": template}
    )
    work.counts[
        "reminders_before"
        if key == "before"
        else "reminders_due"
        if key == "due"
        else "reminders_overdue"
    ] += 1
    work.counts["emails_queued"] += 1


def _queue_service_email(
    run: _Run, work: _OrderWork, *, template: str, services: list[Service], days: int
) -> None:
    language = work.customer.preferred_language or settings.LANGUAGE_CODE
    rules = run.rules
    context = {
        "order": attach_items(work.order, work.items),
        "customer": work.customer,
        "pay_url": billing.order_pay_url(work.order),
        "days": days,
        "services": [
            {"name": s.product.display_name(language), "label": s.label} for s in services
        ],
        "terminate_date": work.order.due_date + dt.timedelta(days=rules.terminate_after_days),
        "due": billing_selectors.amount_to_charge([work.order])
        if work.order.state == OrderState.PENDING
        else None,
    }
    save_emails(
        [build_email(customer=work.customer, template=template, context=context, language=language)]
    )
    work.counts["emails_queued"] += 1


# --- Renewal -------------------------------------------------------------------------------------


def renewal_line(
    *, service: Service, language: str, descriptions: LineDescriptions | None = None
) -> billing.LineSpec:
    """The order line that bills a service's next period (starting on its next due date).

    Its description is in ``language``; ``descriptions`` holds the batch's translated texts.
    """
    product = service.product
    batch = descriptions if descriptions is not None else LineDescriptions()
    texts = batch.for_language(language)
    start = _due(service)
    discount, _options = _recurring_discounts(service=service, options=[])
    return billing.LineSpec(
        kind=ItemKind.RENEWAL,
        description=texts.renewal_for(product=product, label=service.label),
        unit_price=service.price,
        tax_treatment=product.tax_treatment,
        tax_rate=product.effective_tax_rate,
        service=service,
        period_start=start,
        period_end=billing.period_end_for(
            cycle=service.cycle, start=start, anchor_day=service.anchor_day
        ),
        discount=discount,
        discount_reason=_coupon_reason(service=service, texts=texts) if discount else "",
    )


def _recurring_discounts(
    *, service: Service, options: list[ServiceOption]
) -> tuple[Decimal, list[Decimal]]:
    """What the service's recurring coupon takes off its own line and its options' lines."""
    coupon = service.coupon if service.coupon_id is not None else None
    if coupon is None:
        return ZERO, [ZERO for _o in options]
    return line_discounts(
        kind=coupon.kind,
        value=coupon.value,
        product_subtotal=quantize(service.price),
        option_subtotals=[quantize(o.price * o.quantity) for o in options],
    )


def _coupon_reason(*, service: Service, texts: LineTexts) -> str:
    coupon = service.coupon
    if coupon is None:
        return ""
    return texts.coupon_for(
        code=coupon.code, value=coupon_label(kind=coupon.kind, value=coupon.value)
    )


def option_renewal_lines(
    *,
    service: Service,
    options: list[ServiceOption],
    language: str,
    descriptions: LineDescriptions | None = None,
) -> list[billing.LineSpec]:
    """The lines that bill a service's chosen options for its next period (beside renewal_line):
    quantity × the unit price kept on the service, the service's recurring coupon applied."""
    if not options:
        return []
    product = service.product
    batch = descriptions if descriptions is not None else LineDescriptions()
    texts = batch.for_language(language)
    start = _due(service)
    end = billing.period_end_for(cycle=service.cycle, start=start, anchor_day=service.anchor_day)
    _discount, discounts = _recurring_discounts(service=service, options=options)
    service_text = texts.renewal_for(product=product, label=service.label)
    return [
        billing.LineSpec(
            kind=ItemKind.OPTION,
            description=texts.option_for(service_text=service_text, option=option.description),
            unit_price=option.price,
            quantity=Decimal(option.quantity),
            tax_treatment=product.tax_treatment,
            tax_rate=product.effective_tax_rate,
            service=service,
            period_start=start,
            period_end=end,
            discount=discount,
            discount_reason=_coupon_reason(service=service, texts=texts) if discount else "",
        )
        for option, discount in zip(options, discounts, strict=True)
    ]


def _plan(run: _Run, customer: Customer, services: list[Service]) -> billing.OrderSpec:
    """One customer's renewal order, computed before anything is written."""
    language = customer_language(customer)
    lines = []
    for s in services:
        lines.append(renewal_line(service=s, language=language, descriptions=run.descriptions))
        lines.extend(
            option_renewal_lines(
                service=s,
                options=run.options.get(s.pk, []),
                language=language,
                descriptions=run.descriptions,
            )
        )
    return _spec(run, customer, lines, language)


def _spec(
    run: _Run, customer: Customer, lines: list[billing.LineSpec], language: str
) -> billing.OrderSpec:
    """Issued on the run date, due on the earliest period start but never before the run date."""
    return billing.OrderSpec(
        customer=customer,
        lines=lines,
        issue_date=run.rules.run_date,
        due_date=max(
            min(line.period_start or run.rules.run_date for line in lines), run.rules.run_date
        ),
        reason=RENEWAL_REASON,
        language=language,
    )


def _create(run: _Run, specs: list[billing.OrderSpec]) -> list[Order]:
    return billing.create_orders(
        specs=specs, provider=run.provider, renderer=run.renderer, pay_url=run.pay_url
    )


def _renew(run: _Run, due: list[tuple[Customer, list[Service]]]) -> None:
    specs: list[billing.OrderSpec] = []
    for customer, services in due:
        try:
            specs.append(_plan(run, customer, services))
        except Exception as exc:
            run.fail(customer.pk, "renew", exc)
    if not specs:
        return
    try:
        with transaction.atomic():
            _insert_renewals(run, specs)
            run.finish_atomic()
    except Exception as exc:
        # Usually another run billed some of these periods since we read them (unique period_key).
        logger.info(
            "billing run %s: bulk insert of %d orders failed (%s); one by one",
            run.rules.run_date,
            len(specs),
            exc,
        )
        for spec in specs:
            _renew_one(run, spec)
        return
    run.counts["orders_created"] += len(specs)
    run.counts["services_billed"] += sum(_services_in(spec) for spec in specs)
    run.counts["emails_queued"] += len(specs)


def _services_in(spec: billing.OrderSpec) -> int:
    """The services an order bills (its option lines are not services of their own)."""
    return sum(1 for line in spec.lines if line.kind != ItemKind.OPTION)


def _insert_renewals(run: _Run, specs: list[billing.OrderSpec]) -> int:
    """The batch's renewal orders in one create_orders call (one INSERT per table)."""
    orders = _create(run, specs)
    logger.info(
        "billing run %s: %d renewal orders %s…%s",
        run.rules.run_date,
        len(orders),
        orders[0].number,
        orders[-1].number,
    )
    return len(orders)


def _renew_one(run: _Run, spec: billing.OrderSpec) -> None:
    """One customer's renewal in its own transaction (the bulk insert's fallback)."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                _create(run, [spec])
                run.finish_atomic()
        except IntegrityError as exc:
            billed = set(
                OrderItem.objects.filter(
                    period_key__in=[billing.period_key_for(line) for line in spec.lines]
                )
                .order_by()
                .values_list("period_key", flat=True)
            )
            # A service whose period is billed elsewhere leaves with its option lines.
            gone = {
                line.service.pk
                for line in spec.lines
                if line.service is not None and billing.period_key_for(line) in billed
            }
            remaining = [
                line for line in spec.lines if line.service is None or line.service.pk not in gone
            ]
            if len(remaining) == len(spec.lines) or attempt == 2:
                run.fail(spec.customer.pk, "renew", exc)
                return
            run.counts["already_billed"] += len(gone)
            if not remaining:
                return
            spec = _spec(run, spec.customer, remaining, spec.language or settings.LANGUAGE_CODE)
            continue
        except Exception as exc:
            run.fail(spec.customer.pk, "renew", exc)
            return
        run.counts["orders_created"] += 1
        run.counts["services_billed"] += _services_in(spec)
        run.counts["emails_queued"] += 1
        return


# --- Schedule ----------------------------------------------------------------------------------


def run_scheduled(
    *, now: dt.datetime | None = None, fan_out: Callable[[BillingRun], None] | None = None
) -> BillingRun | None:
    """The worker's hourly check: run today's billing once it is BILLING_RUN_HOUR (Colombia) or later.

    Skipped when today already has a finished real run (from the CLI, staff or
    the worker) or one started in the last two hours. A failed run is retried
    on the next hour. With ``fan_out``, the run is only planned here and handed
    to it (the worker queues jobs that process its chunks); otherwise it runs here.
    """
    local = timezone.localtime(now, BOGOTA) if now else local_now()
    if local.hour < settings.BILLING_RUN_HOUR:
        return None
    today = local.date()
    runs = BillingRun.objects.filter(run_date=today, dry_run=False)
    if runs.filter(status__in=[BillingRunStatus.DONE, BillingRunStatus.DONE_WITH_ERRORS]).exists():
        return None
    if runs.filter(
        status=BillingRunStatus.RUNNING, started_at__gte=timezone.now() - dt.timedelta(hours=2)
    ).exists():
        return None
    if fan_out is not None:
        record = start_run(run_date=today, triggered_by="worker")
        fan_out(record)
        return record
    return run_billing(run_date=today, triggered_by="worker")


def summary_rows(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(label, count) rows for the CLI and the back office, in COUNT_LABELS order."""
    return [(str(label), int(counts.get(key, 0))) for key, label in COUNT_LABELS.items()]
