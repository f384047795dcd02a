"""The habilitación back office in a real browser, at phone width: import the numbering from the
DIAN simulator, start the test set, watch the page refresh itself until DIAN's outcome, with no
accessibility violation (axe-core, WCAG 2.1 A/AA) and nothing wider than the screen."""

from __future__ import annotations

import importlib.util
import time

import pytest
from django.apps import apps
from django.core.management import call_command

from clientarea.einvoice import habilitacion
from clientarea.einvoice.dian import transport
from clientarea.einvoice.habilitacion_models import TestSetRun, TestSetRunStatus
from clientarea.einvoice.models import NumberingResolution
from clientarea.test import ACCESS_CODE, make_provider, make_staff
from clientarea.tests.test_accessibility import axe_violations

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
TEST_SET = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"


def fits_the_screen(page) -> list[str]:
    """The elements wider than the screen (none, on a page that fits)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1
                         && !e.closest("[role=region]"))
          .map((e) => e.tagName + "." + e.className)"""
    )


def test_import_start_and_follow_a_test_set_on_a_phone(page, live_site, settings, monkeypatch):
    call_command("dian_sandbox_seed")
    make_provider()
    settings.DIAN_WS_URL = live_site.url + settings.DIAN_SANDBOX_PATH
    settings.EINVOICE_SOFTWARE_PROVIDER_NIT = "800123456"  # the simulator's software owner
    monkeypatch.setattr(habilitacion.habilitacion_jobs, "advance_test_set_job", lambda run_id: None)
    staff = make_staff()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_site.url + "/admin/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", ACCESS_CODE)
    page.click("input[type=submit]")
    page.wait_for_url(live_site.url + "/admin/")

    page.goto(live_site.url + "/admin/einvoice/numberingresolution/")
    page.get_by_role("button", name="Importar desde la DIAN").click()
    page.wait_for_selector(".messagelist .success")
    assert NumberingResolution.objects.get().prefix == "SETP"
    assert "SETP" in page.inner_text("#result_list")

    page.goto(live_site.url + "/admin/einvoice/testsetrun/")
    page.get_by_role("link", name="Iniciar un set de pruebas").click()
    assert axe_violations(page) == []
    assert fits_the_screen(page) == []
    page.get_by_label("TestSetId").fill(TEST_SET)
    page.get_by_role("button", name="Enviar el set de pruebas a la DIAN").click()
    page.wait_for_selector("h2 .test-set-running")
    run = TestSetRun.objects.get()
    assert page.locator("[data-auto-refresh-url]").count() == 1
    # auto-refresh.js shows the button once it runs (deferred: under load, after the heading).
    page.wait_for_selector("#stop-auto-refresh", state="visible")
    assert axe_violations(page) == []
    assert fits_the_screen(page) == []

    # The worker's part, while the page keeps refreshing itself.
    deadline = time.monotonic() + 60
    while habilitacion.advance_run(run_id=run.pk) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    transport.close_connections()
    page.wait_for_selector("h2 .test-set-accepted", timeout=20000)  # no click: the refresh
    run.refresh_from_db()
    assert run.status == TestSetRunStatus.ACCEPTED
    assert page.locator("[data-auto-refresh-url]").count() == 0
    assert page.locator("ol.next-steps li").count() >= 5
    assert "MUISCA" in page.inner_text("ol.next-steps")
    assert axe_violations(page) == []
    assert fits_the_screen(page) == []
