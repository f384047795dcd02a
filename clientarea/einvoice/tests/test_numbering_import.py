"""Numbering from DIAN: GetNumberingRange against the local DIAN simulator over real HTTP.

Through the service, the back office's "Import from DIAN" button and
``clientarea einvoice numbering-import``; DIAN's refusals and a timeout become messages in words.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import time
import urllib.parse
import urllib.request
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.einvoice import numbering
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.dian import transport
from clientarea.einvoice.models import Environment, NumberingResolution
from clientarea.test import make_customer, make_provider, make_staff

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
SOFTWARE_OWNER = "800123456"  # the simulator's demo software belongs to this software provider


@pytest.fixture(autouse=True)
def _close_kept_connections():
    """The live server's request thread holds a database connection while ours is kept open."""
    yield
    transport.close_connections()


@pytest.fixture
def dian(live_server, settings) -> str:
    """The product pointed at the simulator by configuration only."""
    call_command("dian_sandbox_seed")
    make_provider()
    settings.DIAN_WS_URL = live_server.url + settings.DIAN_SANDBOX_PATH
    settings.EINVOICE_SOFTWARE_PROVIDER_NIT = SOFTWARE_OWNER
    settings.EINVOICE_ENVIRONMENT = "habilitacion"
    return live_server.url


def arm(base_url: str, kind: str, **values: str) -> None:
    data = urllib.parse.urlencode({"kind": kind, **values}).encode()
    request = urllib.request.Request(base_url + "/sandbox/dian/faults", data=data)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


def test_the_import_creates_the_test_resolution_with_dians_technical_key_once(dian):
    result = numbering.import_numbering_ranges()
    assert result.created == ["18760000001 SETP990000000–995000000"] and not result.updated
    row = NumberingResolution.objects.get()
    assert (row.prefix, row.range_from, row.range_to, row.next_number) == (
        "SETP",
        990000000,
        995000000,
        990000000,
    )
    assert (row.valid_from, row.valid_to) == (dt.date(2019, 1, 19), dt.date(2030, 1, 19))
    assert row.technical_key == DIAN_TEST_TECHNICAL_KEY
    assert row.environment == Environment.TEST and row.active
    assert AuditEvent.objects.filter(action="einvoice.numbering_imported").count() == 1

    again = numbering.import_numbering_ranges()
    assert again.unchanged == [result.created[0]] and not again.created and not again.updated
    assert NumberingResolution.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="einvoice.numbering").count() == 1


def test_a_hand_typed_wrong_key_is_corrected_and_the_counter_kept(dian):
    NumberingResolution.objects.create(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000042, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key="typed-by-hand", environment=Environment.TEST,
    )  # fmt: skip
    result = numbering.import_numbering_ranges()
    assert len(result.updated) == 1 and not result.created
    row = NumberingResolution.objects.get()
    assert row.technical_key == DIAN_TEST_TECHNICAL_KEY
    assert row.next_number == 990000042  # numbers already issued are never given again
    event = AuditEvent.objects.get(action="einvoice.numbering_updated")
    assert event.changes["technical_key"] == ["typed-by-hand", DIAN_TEST_TECHNICAL_KEY]


def test_dians_refusal_is_explained_and_nothing_is_written(dian, settings):
    settings.EINVOICE_SOFTWARE_PROVIDER_NIT = ""  # the issuer's own NIT: not the software's owner
    with pytest.raises(numbering.NumberingImportError) as caught:
        numbering.import_numbering_ranges()
    message = str(caught.value)
    assert "303" in message and "EINVOICE_SOFTWARE_PROVIDER_NIT" in message
    assert not NumberingResolution.objects.exists() and not AuditEvent.objects.exists()


def test_a_timeout_is_a_clear_message(dian, settings):
    settings.DIAN_WS_TIMEOUT = 1
    arm(dian, "timeout", seconds="3")
    english = translation.override("en")
    with english, pytest.raises(numbering.NumberingImportError, match="within 1 seconds"):
        numbering.import_numbering_ranges()
    assert not NumberingResolution.objects.exists()


def test_dian_unavailable_is_said_in_the_readers_words_with_the_detail_apart(dian):
    arm(dian, "http_503")
    with translation.override("es"), pytest.raises(numbering.NumberingImportError) as caught:
        numbering.import_numbering_ranges()
    message = str(caught.value)
    assert message.startswith("La DIAN no está disponible; intente de nuevo más tarde.")
    assert "Detalle técnico: GetNumberingRange: HTTP 503, not a SOAP answer" in message
    assert not NumberingResolution.objects.exists()


def test_importing_from_production_deactivates_the_test_numbering(dian, settings, live_server):
    setp = NumberingResolution.objects.create(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000000, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=DIAN_TEST_TECHNICAL_KEY, environment=Environment.TEST,
    )  # fmt: skip
    settings.EINVOICE_ENVIRONMENT = "production"
    settings.DIAN_WS_URL = live_server.url + "/sandbox/dian/produccion/WcfDianCustomerServices.svc"
    result = numbering.import_numbering_ranges()
    setp.refresh_from_db()
    # The simulator's demo software lists the same range in production; it is now a production
    # row and stays active, while any other test resolution would be switched off.
    assert result.updated and setp.environment == Environment.PRODUCTION and setp.active

    NumberingResolution.objects.create(
        number="1", prefix="TST", range_from=1, range_to=10, next_number=1,
        valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2030, 1, 1),
        technical_key="k", environment=Environment.TEST,
    )  # fmt: skip
    result = numbering.import_numbering_ranges()
    assert result.deactivated == ["1 TST1–10"]
    assert not NumberingResolution.objects.get(prefix="TST").active
    assert AuditEvent.objects.filter(action="einvoice.numbering_deactivated").count() == 1


def test_the_back_office_button_imports_and_reports(dian):
    staff = make_staff()
    browser = Client()
    browser.force_login(staff)
    changelist = reverse("admin:einvoice_numberingresolution_changelist")
    page = browser.get(changelist)
    assert b"Import from DIAN" in page.content or "Importar desde la DIAN" in page.text
    url = reverse("admin:einvoice_numberingresolution_import")
    assert browser.get(url).status_code == 405
    answer = browser.post(url, follow=True)
    assert answer.redirect_chain[-1][0] == changelist
    assert NumberingResolution.objects.filter(prefix="SETP").exists()
    event = AuditEvent.objects.get(action="einvoice.numbering_imported")
    assert event.actor == staff


def test_the_button_shows_dians_refusal_as_an_error_message(dian, settings):
    settings.EINVOICE_SOFTWARE_ID = "00000000-0000-0000-0000-000000000000"
    browser = Client()
    browser.force_login(make_staff())
    answer = browser.post(reverse("admin:einvoice_numberingresolution_import"), follow=True)
    assert answer.status_code == 200
    shown = [str(m) for m in answer.context["messages"]]
    assert any("302" in m for m in shown), shown
    assert not NumberingResolution.objects.exists()


def test_the_button_gives_dian_the_short_interactive_timeout_and_writes_nothing(dian, settings):
    """The button waits inside the web request: DIAN_WS_INTERACTIVE_TIMEOUT, not the worker's
    DIAN_WS_TIMEOUT, bounds the wait, and staff read why nothing was imported, in their language."""
    settings.DIAN_WS_TIMEOUT = 30  # the worker's: the page must not wait for it
    settings.DIAN_WS_INTERACTIVE_TIMEOUT = 1
    browser = Client()
    browser.force_login(make_staff())
    url = reverse("admin:einvoice_numberingresolution_import")
    changelist = reverse("admin:einvoice_numberingresolution_changelist")
    expected = {
        "en": "DIAN did not answer within 1 seconds; nothing was imported. Try again in a few "
        "minutes.",
        "es": "La DIAN no respondió en 1 segundos; no se importó nada. Intente de nuevo en unos "
        "minutos.",
    }
    for language, words in expected.items():
        arm(dian, "timeout", seconds="6")  # DIAN holds the connection, then drops it
        browser.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
        started = time.monotonic()
        answer = browser.post(url)
        waited = time.monotonic() - started
        assert answer.status_code == 302 and answer["Location"] == changelist
        assert waited < 4.5, f"the page waited {waited:.1f} s for DIAN"
        page = browser.get(changelist)
        errors = [str(m) for m in page.context["messages"] if m.level_tag == "error"]
        assert errors == [words]
        assert not NumberingResolution.objects.exists() and not AuditEvent.objects.exists()
    # DIAN answers again: the same button imports.
    answer = browser.post(url, follow=True)
    assert NumberingResolution.objects.filter(prefix="SETP").count() == 1


def test_the_button_says_how_long_it_waits_for_dian(dian, settings):
    settings.DIAN_WS_INTERACTIVE_TIMEOUT = 12.5
    browser = Client()
    browser.force_login(make_staff())
    browser.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = browser.get(reverse("admin:einvoice_numberingresolution_changelist")).text
    assert "Waits at most 12.5 seconds for DIAN&#x27;s answer." in page or (
        "Waits at most 12.5 seconds for DIAN's answer." in page
    )


def test_the_command_keeps_the_workers_timeout(dian, settings):
    """Nobody's page waits for the command: it gives DIAN DIAN_WS_TIMEOUT, not the short one."""
    settings.DIAN_WS_TIMEOUT = 10
    settings.DIAN_WS_INTERACTIVE_TIMEOUT = 1
    arm(dian, "slow", seconds="2")
    out = StringIO()
    with translation.override("en"):
        call_command("einvoice", "numbering-import", stdout=out)
    assert "1 new" in out.getvalue()


def test_a_customer_cannot_import(dian):
    browser = Client()
    browser.force_login(make_customer().user)
    answer = browser.post(reverse("admin:einvoice_numberingresolution_import"))
    assert answer.status_code == 302 and "/login/" in answer["Location"]
    assert not NumberingResolution.objects.exists()


def test_the_command_imports_and_fails_with_dians_reason(dian, settings):
    out = StringIO()
    with translation.override("en"):
        call_command("einvoice", "numbering-import", stdout=out)
    assert "SETP990000000" in out.getvalue() and "1 new" in out.getvalue()
    # In the site's language, each row's label too (it printed "unchanged" before a Spanish total)
    out = StringIO()
    with translation.override("es"):
        call_command("einvoice", "numbering-import", stdout=out)
    (row, summary) = out.getvalue().splitlines()
    assert row.split()[:2] == ["sin", "cambios"] and "SETP990000000" in row
    assert summary.startswith("Numeración desde la DIAN") and "unchanged" not in row
    settings.EINVOICE_SOFTWARE_PROVIDER_NIT = ""
    with pytest.raises(CommandError, match="303"):
        call_command("einvoice", "numbering-import", stdout=StringIO())
    assert settings.DIAN_WS_URL.endswith(settings.DIAN_SANDBOX_PATH)
