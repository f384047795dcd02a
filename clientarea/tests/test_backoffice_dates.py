"""The back office shows dates and times as the rest of the site does, in the reader's language
(``SHORT_DATE_FORMAT`` / ``SHORT_DATETIME_FORMAT`` from clientarea/formats: "12 dic 2026",
"5 dic 2026 14:05"), never as ISO ("2026-12-12", "2026-12-05 19:05" in UTC). CSV and XLSX
exports keep ISO on purpose and are not pages."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from clientarea.accounts.audit import record
from clientarea.accounts.models import Customer, User
from clientarea.billing.models import BillingRun, Order
from clientarea.lib.models import PeriodicRun
from clientarea.payments.models import GatewaySwitch
from clientarea.withholdings.models import UvtValue

pytestmark = pytest.mark.django_db
ISO = re.compile(r"\b20\d\d-\d\d-\d\d\b")
#: Third-party admin pages whose titles are the package's own ``__str__``.
NOT_OURS = {"axes"}


def visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def iso_dates(text: str) -> list[str]:
    # What staff typed is shown as typed (a UVT value's source, "Res. 000238 de 2025-12-15").
    for source in UvtValue.objects.values_list("source", flat=True):
        text = text.replace(source, "")
    return [text[max(m.start() - 60, 0) : m.end()] for m in ISO.finditer(text)]


@pytest.fixture
def staff_client(client):
    call_command("demo_data", stdout=io.StringIO())
    staff = User.objects.filter(is_superuser=True).first()
    assert staff is not None
    client.force_login(staff)
    client.cookies["django_language"] = "es"
    now = timezone.now()
    BillingRun.objects.create(run_date=dt.date(2026, 12, 5), finished_at=now)
    PeriodicRun.objects.create(task="billing_run", slot=now, claimed_by="w1", started_at=now)
    GatewaySwitch.objects.create(gateway="payu", offered=False, reason="maintenance")
    record(action="test.dates", actor=staff, target="x")
    return client


def test_the_orders_action_page_shows_due_dates_as_the_site_does(staff_client):
    pending = list(Order.objects.filter(state="pending").order_by("pk"))[:3]
    assert pending
    page = staff_client.post(
        reverse("admin:billing_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [o.pk for o in pending]},
    ).content.decode()
    text = visible(page)
    assert iso_dates(text) == []
    months = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]
    due = pending[0].due_date
    assert f"{due.day} {months[due.month - 1]} {due.year}" in text


def test_no_back_office_page_shows_an_iso_date(staff_client):
    urls = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        if info[0] in NOT_OURS:
            continue
        try:
            urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        obj = model._default_manager.order_by("-pk").first()
        if obj is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    for customer in Customer.objects.order_by("pk")[:3]:
        urls.append(reverse("admin:billing_ledgerentry_statement", args=[customer.pk]))
        urls.append(reverse("backoffice:customer", args=[customer.pk]))
    urls += [reverse(f"reports:{name}") for name in ("dashboard", "reports", "movements")]
    found = {}
    for url in urls:
        response = staff_client.get(url, follow=True)
        assert response.status_code == 200, url
        hits = iso_dates(visible(response.content.decode()))
        if hits:
            found[url] = hits[:2]
    assert found == {}
