"""The audit log in the back office: what one staff member did, found by filter or by email."""

import pytest
from django.urls import reverse

from clientarea.accounts import audit
from clientarea.accounts.models import User
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


def test_the_log_filters_and_searches_by_staff_member(client):
    make_provider()
    lead = make_staff()
    agent = User.objects.create_user(
        email="agente@conexcol.example", password="x-agent-2026", is_staff=True
    )
    alice = make_customer("alice@example.com")
    audit.record(action="customer.access_code_reset", actor=agent, customer=alice, target="A-1")
    audit.record(action="customer.note_added", actor=lead, customer=alice, target="L-1")
    audit.record(action="customer.profile_changed", actor=alice.user, customer=alice, target="C-1")
    client.force_login(lead)
    url = reverse("admin:accounts_auditevent_changelist")

    page = client.get(url).content.decode()
    filters = page.split('id="changelist-filter"')[1]
    assert "agente@conexcol.example" in filters and lead.email in filters
    assert "alice@example.com" not in filters  # customers are not staff

    mine = client.get(url, {"staff": agent.pk}).content.decode()
    assert "A-1" in mine and "L-1" not in mine and "C-1" not in mine
    found = client.get(url, {"q": "agente@conexcol"}).content.decode()
    assert "A-1" in found and "L-1" not in found
    assert client.get(url, {"staff": "x"}).status_code == 200  # ignored, not a 500
