"""The "plan changed" email: recorded where the change is applied (the paid transaction of an
upgrade) with the ids it describes and what it states as of then (the service's due date and plan,
the change's amounts as exact strings, the plans' names), and rendered by the worker when it
delivers it, with the text the transaction used to render.

``plan_changed_emails.json`` holds the subject and bodies the email had when it was rendered in the
transaction, for each scenario of ``plan_change_scenarios`` (plan and options changes, up and
down), in both languages.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from clientarea.billing import services as billing
from clientarea.billing.tests import make_product, make_renewal_order
from clientarea.catalog.tests.test_ordering import vps
from clientarea.notifications import delivery
from clientarea.notifications import services as notifications
from clientarea.notifications.editable import EDITABLE
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.notifications.tests.deferred import deliver, rendered
from clientarea.reports.email_samples import sample_context
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import PlanChange, Service, SuspensionReason
from clientarea.subscriptions.tests import plan_change_scenarios as scenarios
from clientarea.subscriptions.tests.plan_change_scenarios import BOGOTA, DUE, SCENARIOS
from clientarea.test import make_customer

pytestmark = pytest.mark.django_db

__all__ = ["vps"]  # the catalog tests' fixture, used here

EAGER = json.loads((Path(__file__).parent / "plan_changed_emails.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("language", ["es-co", "en"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_recorded_unrendered_with_the_values_of_then_and_rendered_as_before(
    scenario, language, vps, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        service, change = scenarios.run(scenario, language, vps)
    email = scenarios.the_email()
    assert (email.subject, email.body_text, email.body_html) == ("", "", "")
    assert email.language == language
    refs = email.render_refs or {}
    assert (refs["customer"], refs["service"], refs["change"]) == (
        service.customer_id,
        service.pk,
        change.pk,
    )
    service.refresh_from_db()
    assert refs["service_then"] == {
        "product": service.product_id,
        "cycle": "monthly",
        "price": str(service.price),
        "label": service.label,
        "status": "active",
        "start_date": str(service.start_date),
        "next_due_date": "2026-02-15",
    }
    assert refs["change_then"] == {
        "from_price": str(change.from_price),
        "to_price": str(change.to_price),
        "amount": str(change.amount),
    }
    assert set(refs["names"]) >= {"old_name", "new_name"}
    for callback in callbacks:  # the worker, right after commit
        callback()
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.render_refs is None
    assert rendered(email) == EAGER[language][scenario]
    sent = [m for m in mailoutbox if m.subject == EAGER[language][scenario]["subject"]]
    assert len(sent) == 1 and sent[0].body == EAGER[language][scenario]["body_text"]


@pytest.mark.parametrize("language", ["es-co", "en"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_renewal_or_a_staff_edit_before_it_is_rendered_does_not_change_what_it_says(
    scenario, language, vps, no_delivery_job
):
    service, _change = scenarios.run(scenario, language, vps)
    waiting = scenarios.the_email()
    # Before the worker renders it: the renewal is paid (the due date moves a month), staff move
    # the service to another plan at another price with another label, then suspend it.
    renewal = make_renewal_order(service, issue_date=DUE - dt.timedelta(days=5))
    billing.mark_order_paid(
        order_id=renewal.pk,
        paid_at=dt.datetime(2026, 2, 10, 9, tzinfo=BOGOTA),
        via="manual",
        notify=False,
    )
    other = make_product("hosting-otro", prices={"monthly": "77000"})
    subscription_services.update_service(
        service=service,
        changes={"product": other, "price": Decimal("77000"), "label": "otro.co"},
        actor=None,
        reason="staff",
    )
    subscription_services.suspend_service(service=service, reason=SuspensionReason.MANUAL)
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2026, 3, 15) and service.product == other
    assert waiting.render_refs is not None  # not rendered yet
    assert rendered(deliver(waiting)) == EAGER[language][scenario]
    assert waiting.status == EmailStatus.SENT


def test_what_is_gone_fails_the_email_with_the_reason(vps, no_delivery_job, mailoutbox):
    service, change = scenarios.run("upgrade", "en", vps)
    email = scenarios.the_email()
    refs = dict(email.render_refs or {})
    bob = make_customer("bob@example.com")
    gone = {
        "customer": ({"customer": 10**9}, "customer 1000000000 no longer exists"),
        "service": ({"service": 10**9}, "service 1000000000 no longer exists"),
        "bob's": ({"customer": bob.pk}, f"service {service.pk} no longer exists"),
        "change": ({"change": 10**9}, "plan change 1000000000 no longer exists"),
    }
    for what, (change_refs, reason) in gone.items():
        with pytest.raises(notifications.ContextGone, match=reason):
            subscription_services.plan_changed_email_context({**refs, **change_refs})
        copy = OutgoingEmail.objects.create(
            to_email=email.to_email,
            template="plan_changed",
            language="en",
            render_refs={**refs, **change_refs},
        )
        assert not delivery.deliver_email(email_id=copy.pk), what
        copy.refresh_from_db()
        assert copy.status == EmailStatus.FAILED and copy.last_error == f"Not sent: {reason}"
        assert copy.body_text == ""
    # A change that is not applied (cannot happen through the services) is not announced.
    PlanChange.objects.filter(pk=change.pk).update(status="cancelled")
    with pytest.raises(notifications.ContextGone, match="is not applied"):
        subscription_services.plan_changed_email_context(refs)
    assert mailoutbox == []


def test_the_editor_shows_the_variables_the_worker_renders_with(vps):
    """What staff preview and validate an edited template against (the sample, with exactly the
    variables the editor lists) has the shape of what the worker renders it with: the same names,
    the same kinds of objects, and on them the due date as a date and the amounts as numbers."""
    scenarios.run("upgrade", "es-co", vps)
    context = subscription_services.plan_changed_email_context(
        scenarios.the_email().render_refs or {}
    )
    sample = sample_context("plan_changed")
    assert set(context) == set(sample) == set(EDITABLE["plan_changed"].variables)
    for name, value in sample.items():
        assert type(context[name]) is type(value), name
    for name in ("next_due_date", "start_date", "price", "cycle", "label", "status"):
        assert kind(getattr(context["service"], name)) is kind(getattr(sample["service"], name))
    for name in ("from_price", "to_price", "amount", "effective_date", "direction"):
        assert kind(getattr(context["change"], name)) is kind(getattr(sample["change"], name))


def kind(value) -> type:
    """A choice (``TextChoices``) is text, as a value read from the database is."""
    return str if isinstance(value, str) else type(value)


def test_an_edited_template_reads_the_service_as_the_change_left_it(vps, no_delivery_job):
    """An override saved from the editor (validated against the sample) may read any field of the
    service it is allowed to: the worker gives it the service of that moment."""
    notifications.save_template_version(
        template="plan_changed",
        language="en",
        sample=sample_context("plan_changed"),
        actor=None,
        subject="{{ service.product.name }} {{ service.get_cycle_display }}",
        body_text="{{ service }}|{{ service.label }}|{{ service.price }}|"
        "{{ service.next_due_date|date:'Y-m-d' }}|{{ service.get_status_display }}|"
        "{{ change.to_price }}|{{ change.amount }}|{{ new_name }}",
        body_html="<p>{{ service.label }}</p>",
    )
    service, change = scenarios.run("upgrade", "en", vps)
    waiting = scenarios.the_email()
    Service.objects.filter(pk=service.pk).update(
        next_due_date=dt.date(2026, 3, 15), label="otro.co", price=Decimal("1"), status="suspended"
    )
    email = deliver(waiting)
    assert email.subject == "Hosting Pro Monthly"
    assert email.body_text.strip() == (
        f"Hosting Pro · alice&co.com|alice&co.com|59000.00|2026-02-15|Active|59000.00|"
        f"{change.amount}|Pro Hosting"
    )
