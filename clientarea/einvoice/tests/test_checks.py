"""System checks of the e-invoice configuration (``clientarea check --deploy``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.checks import registry, run_checks
from django.test import override_settings

from clientarea.einvoice import checks
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.models import Environment, NumberingResolution
from clientarea.einvoice.signing import create_demo_certificate
from clientarea.einvoice.tests.factories import ca_issued_certificate

PASSWORD = "s3cret"
LIVE_SOFTWARE = {"EINVOICE_SOFTWARE_ID": "0b1c2d3e-live-software", "EINVOICE_SOFTWARE_PIN": "97531"}


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages)


@pytest.fixture
def live_cert(tmp_path):
    path = tmp_path / "signing.p12"
    ca_issued_certificate(path, PASSWORD)
    return path


def test_the_checks_are_registered_as_deploy_checks():
    deploy_checks = registry.registry.get_checks(include_deployment_checks=True)
    for check in (
        checks.signing_certificate,
        checks.software_registration,
        checks.numbering_resolution,
    ):
        assert check in deploy_checks


@override_settings(DEBUG=False, **LIVE_SOFTWARE)
def test_a_valid_ca_issued_certificate_passes(live_cert):
    with override_settings(EINVOICE_CERT_PATH=str(live_cert), EINVOICE_CERT_PASSWORD=PASSWORD):
        assert checks.signing_certificate(None) == []
        assert checks.software_registration(None) == []


@pytest.mark.parametrize("path", ["", "missing.p12", "."])
def test_a_missing_certificate_is_an_error(tmp_path, path):
    with override_settings(EINVOICE_CERT_PATH=str(tmp_path / path) if path else ""):
        assert ids(checks.signing_certificate(None)) == ["einvoice.E001"]


def test_a_wrong_password_or_a_file_that_is_no_certificate_is_an_error(tmp_path, live_cert):
    with override_settings(EINVOICE_CERT_PATH=str(live_cert), EINVOICE_CERT_PASSWORD="wrong"):
        assert ids(checks.signing_certificate(None)) == ["einvoice.E002"]
    garbage = tmp_path / "garbage.p12"
    garbage.write_bytes(b"not a certificate")
    with override_settings(EINVOICE_CERT_PATH=str(garbage), EINVOICE_CERT_PASSWORD=PASSWORD):
        assert ids(checks.signing_certificate(None)) == ["einvoice.E002"]


def test_an_expired_or_not_yet_valid_certificate_is_an_error(tmp_path):
    now = dt.datetime.now(dt.UTC)
    expired, future = tmp_path / "expired.p12", tmp_path / "future.p12"
    ca_issued_certificate(
        expired,
        PASSWORD,
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=1),
    )
    ca_issued_certificate(future, PASSWORD, not_before=now + dt.timedelta(days=2))
    for path in (expired, future):
        with override_settings(EINVOICE_CERT_PATH=str(path), EINVOICE_CERT_PASSWORD=PASSWORD):
            assert ids(checks.signing_certificate(None)) == ["einvoice.E003"]


def test_a_certificate_expiring_within_30_days_is_a_warning(tmp_path):
    now = dt.datetime.now(dt.UTC)
    soon, later = tmp_path / "soon.p12", tmp_path / "later.p12"
    ca_issued_certificate(soon, PASSWORD, not_after=now + dt.timedelta(days=29))
    ca_issued_certificate(later, PASSWORD, not_after=now + dt.timedelta(days=31))
    with override_settings(EINVOICE_CERT_PATH=str(soon), EINVOICE_CERT_PASSWORD=PASSWORD):
        messages = checks.signing_certificate(None)
        assert ids(messages) == ["einvoice.W004"] and "28 day(s)" in messages[0].msg
    with override_settings(EINVOICE_CERT_PATH=str(later), EINVOICE_CERT_PASSWORD=PASSWORD):
        assert checks.signing_certificate(None) == []


def test_the_self_signed_demo_certificate_is_refused_in_production_only(tmp_path):
    demo = tmp_path / "demo-signing.p12"
    create_demo_certificate(demo, "demo", "Conexcol (DEMO)")
    with override_settings(EINVOICE_CERT_PATH=str(demo), EINVOICE_CERT_PASSWORD="demo"):
        with override_settings(DEBUG=True):
            assert checks.signing_certificate(None) == []
        with override_settings(DEBUG=False):
            assert ids(checks.signing_certificate(None)) == ["einvoice.E005"]


@pytest.mark.parametrize(
    ("software_id", "pin", "names"),
    [
        (checks.DIAN_TEST_SOFTWARE_ID, checks.DIAN_TEST_SOFTWARE_PIN, "EINVOICE_SOFTWARE_ID and EINVOICE_SOFTWARE_PIN"),
        (checks.DIAN_TEST_SOFTWARE_ID, "97531", "EINVOICE_SOFTWARE_ID"),
        ("0b1c2d3e-live-software", checks.DIAN_TEST_SOFTWARE_PIN, "EINVOICE_SOFTWARE_PIN"),
    ],
)  # fmt: skip
def test_dians_test_software_id_or_pin_is_refused_in_production(software_id, pin, names):
    with override_settings(EINVOICE_SOFTWARE_ID=software_id, EINVOICE_SOFTWARE_PIN=pin):
        with override_settings(DEBUG=True):
            assert checks.software_registration(None) == []
        with override_settings(DEBUG=False):
            messages = checks.software_registration(None)
            assert ids(messages) == ["einvoice.E006"]
            assert messages[0].msg.startswith(f"{names} still hold")


def _resolution(**overrides) -> NumberingResolution:
    values = dict(
        number="18764000001234", prefix="FE", range_from=1, range_to=5000, next_number=1,
        valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2028, 1, 1),
        technical_key="a-production-technical-key", environment=Environment.PRODUCTION,
    )  # fmt: skip
    values.update(overrides)
    return NumberingResolution.objects.create(**values)


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_active_test_resolution_is_a_warning_in_production():
    production = _resolution()
    assert checks.numbering_resolution(None) == []
    test_set = _resolution(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000000, technical_key=DIAN_TEST_TECHNICAL_KEY, environment=Environment.TEST,
    )  # fmt: skip
    messages = checks.numbering_resolution(None)
    assert ids(messages) == ["einvoice.W007"] and "SETP" in messages[0].msg
    test_set.active = False
    test_set.save()
    assert checks.numbering_resolution(None) == []
    # the test key under a production label is still the test set
    production.technical_key = DIAN_TEST_TECHNICAL_KEY
    production.save()
    assert ids(checks.numbering_resolution(None)) == ["einvoice.W007"]
    with override_settings(DEBUG=True):
        assert checks.numbering_resolution(None) == []


@pytest.mark.django_db
@override_settings(DEBUG=False, EINVOICE_CERT_PATH="/nonexistent/signing.p12", **LIVE_SOFTWARE)
def test_run_checks_reports_them_only_with_deploy():
    assert "einvoice.E001" in ids(run_checks(include_deployment_checks=True))
    assert "einvoice.E001" not in ids(run_checks(include_deployment_checks=False))


DIAN = checks.DIAN_TRANSMITTER
STORE = checks.STORE_ONLY_TRANSMITTER


@override_settings(DEBUG=False, DIAN_SANDBOX=False)
def test_invoices_not_sent_to_dian_are_an_error_in_production():
    # DIAN_SANDBOX=0 without EINVOICE_TRANSMITTER: the store-only default, nothing reaches DIAN
    with override_settings(EINVOICE_TRANSMITTER=STORE, EINVOICE_ENVIRONMENT="production"):
        messages = checks.transmission(None)
        assert ids(messages) == ["einvoice.E008"]
        assert DIAN in str(messages[0].hint)
        with override_settings(DEBUG=True):
            assert checks.transmission(None) == []
    with override_settings(EINVOICE_TRANSMITTER=DIAN, EINVOICE_ENVIRONMENT="production"):
        assert checks.transmission(None) == []


@override_settings(DEBUG=False, EINVOICE_TRANSMITTER=DIAN, EINVOICE_ENVIRONMENT="habilitacion")
def test_dians_habilitacion_service_is_a_warning_in_production():
    with override_settings(DIAN_SANDBOX=False):
        messages = checks.transmission(None)
        assert ids(messages) == ["einvoice.W009"]
        assert "EINVOICE_ENVIRONMENT=production" in str(messages[0].hint)
    with override_settings(DIAN_SANDBOX=True):  # the simulator: nothing goes to DIAN
        assert checks.transmission(None) == []


def test_the_transmission_check_is_a_deploy_check():
    assert checks.transmission in registry.registry.get_checks(include_deployment_checks=True)
    assert checks.transmission not in registry.registry.get_checks(include_deployment_checks=False)


def test_the_deployment_environment_example_sends_invoices_to_dian():
    """``deploy/clientarea.env.example`` names the DIAN transmitter (README, deployment step 7):
    a site set up from it passes einvoice.E008 and is only warned that it still talks to DIAN's
    habilitación service (W009) until it is switched to production."""
    from pathlib import Path

    from django.conf import settings

    example = Path(settings.BASE_DIR) / "deploy" / "clientarea.env.example"
    env = dict(
        line.split("=", 1)
        for line in example.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )
    assert env["EINVOICE_TRANSMITTER"] == DIAN
    site = {
        "DEBUG": env["DEBUG"] == "1",
        "DIAN_SANDBOX": False,
        "EINVOICE_TRANSMITTER": env["EINVOICE_TRANSMITTER"],
        "EINVOICE_ENVIRONMENT": env["EINVOICE_ENVIRONMENT"],
    }
    with override_settings(**site):
        assert ids(checks.transmission(None)) == ["einvoice.W009"]
    with override_settings(**{**site, "EINVOICE_ENVIRONMENT": "production"}):
        assert checks.transmission(None) == []
