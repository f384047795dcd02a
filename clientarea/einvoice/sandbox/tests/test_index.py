"""``/sandbox/dian/``, the address the README gives, opens the simulator's pages."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_simulators_root_leads_to_its_back_office_pages(admin_client):
    response = admin_client.get("/sandbox/dian/")
    assert response.status_code == 302 and response["Location"] == "/admin/dian_sandbox/"
    assert admin_client.get(response["Location"]).status_code == 200
