"""Project-wide pytest fixtures: database flavour, live server URL, and a real browser."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

# Tests never assert timings (figures live in bench/): Hypothesis's per-example deadline (200 ms by
# default) would fail a property test because the machine is busy, not because the code is wrong.
hypothesis_settings.register_profile("clientarea", deadline=None)
hypothesis_settings.load_profile("clientarea")


def pytest_collection_modifyitems(config, items):
    if not settings.IS_POSTGRES:
        skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def live_site(live_server, settings):
    """A live server whose SITE_URL is its own address (emails and gateway URLs point at it)."""
    settings.SITE_URL = live_server.url
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return live_server


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium package (see .ci/run)"
        )
    from playwright.sync_api import sync_playwright

    os.environ.setdefault(
        "DJANGO_ALLOW_ASYNC_UNSAFE", "true"
    )  # Playwright runs an event loop in this thread
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_site):
    context = browser.new_context(locale="es-CO", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _every_invoice_made_by_a_test_is_valid(request):
    """Issue 5: every invoice generated anywhere in the suite is checked against the UBL schema.

    After each database test, every rendered invoice, credit note and debit note it produced must
    validate (signed XML and AttachedDocument), carry the CUFE/CUDE fixed when it was issued, and
    that key must be what its own fields give (recomputed with the range's technical key for an
    invoice, the software PIN for a note). pytest-django's database fixtures are
    set up before this one, so the test's data is still there when this runs.
    """
    yield
    if request.node.get_closest_marker("django_db") is None and not {
        "db",
        "transactional_db",
        "live_server",
        "live_site",
    } & set(request.fixturenames):
        return
    from clientarea.einvoice.models import Invoice

    try:
        invoices = list(
            Invoice.objects.exclude(rendered_at=None).values_list(
                "full_number",
                "xml_signed",
                "attached_document",
                "cufe",
                "application_response",
                "document",
            )
        )
    except (
        Exception
    ):  # the test left the database unusable on purpose (e.g. a broken connection test)
        return
    if not invoices:
        return
    from clientarea.einvoice import cufe as keys
    from clientarea.einvoice import ubl, validation

    for number, signed, attached, cufe, application_response, document in invoices:
        signed = bytes(signed)
        assert validation.validate_invoice(signed) == [], f"invoice {number} is not schema-valid"
        assert validation.validate_attached_document(bytes(attached)) == [], (
            f"AttachedDocument of {number} is not schema-valid"
        )
        assert ubl.invoice_cufe(validation._parse(signed)) == cufe, (
            f"invoice {number}: CUFE differs from the one fixed at payment"
        )
        note = keys.is_note(signed)
        secret = document["software_pin"] if note else document["resolution"]["technical_key"]
        assert keys.cufe_from_xml(signed, secret) == cufe, (
            f"{number}: its {'CUDE' if note else 'CUFE'} is not what its own fields give"
        )
        # Accepted by DIAN: its ApplicationResponse is schema-valid and the AttachedDocument
        # carries exactly that one (validate_attached_document checked the embedded copy).
        if application_response:
            application_response = bytes(application_response)
            assert validation.validate_application_response(application_response) == [], (
                f"ApplicationResponse of {number} is not schema-valid"
            )
            # (XML parsing turns DIAN's CRLF line breaks into LF; the content is the same.)
            assert validation.embedded_application_response(bytes(attached)) == (
                application_response.replace(b"\r\n", b"\n")
            ), f"AttachedDocument of {number} does not carry DIAN's ApplicationResponse"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters start at zero in every test (a Redis cache outlives the test database)."""
    yield
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        from clientarea.test import clear_default_cache

        clear_default_cache()


@pytest.fixture(autouse=True)
def _fresh_page_cache():
    """Rendered page parts start empty in every test: a rolled-back test database gives its ids
    (and so an account's stamp) to the next test, which production never does."""
    from django.core.cache import caches

    caches["pages"].clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the site's default language (es-CO): a test that activates English
    (``translation.activate``) must not leave the next one speaking it."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def no_delivery_job(monkeypatch):
    """The after-commit job that delivers an email is lost: the email waits for the worker
    (``notifications.tests.deferred.deliver``) or the sweep."""
    from clientarea.notifications import services as notifications

    monkeypatch.setattr(notifications, "_schedule", lambda *a, **k: None)
