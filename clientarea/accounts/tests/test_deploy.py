import os
import subprocess
import sys
from pathlib import Path

import pytest

from clientarea.einvoice.tests.factories import ca_issued_certificate

ROOT = Path(__file__).resolve().parents[3]

LIVE_GATEWAYS = {
    "PAYU_TEST": "0",
    "PAYU_MERCHANT_ID": "700001",
    "PAYU_ACCOUNT_ID": "700002",
    "PAYU_API_LOGIN": "login-live",
    "PAYU_API_KEY": "live-api-key-0123456789",
    "PAYVALIDA_TEST": "0",
    "PAYVALIDA_MERCHANT": "conexcol",
    "PAYVALIDA_FIXED_HASH": "live-fixed-hash-0123456789",
    "PAYVALIDA_NOTIFICATION_HASH": "live-notification-hash-0123456789",
}
LIVE_EINVOICE = {
    "EINVOICE_CERT_PASSWORD": "live-cert-password",
    "EINVOICE_SOFTWARE_ID": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "EINVOICE_SOFTWARE_PIN": "97531",
    "EINVOICE_TRANSMITTER": "clientarea.einvoice.dian.transmitter.DianTransmitter",
    "EINVOICE_ENVIRONMENT": "production",
}


def check_deploy(tmp_path, **extra: str | None) -> subprocess.CompletedProcess:
    """``check --deploy`` with production settings, changed by ``extra`` (None: left unset)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAYU_", "PAYVALIDA_", "PAYMENTS_", "EINVOICE_"))
    }
    certificate = tmp_path / "signing.p12"  # issued by a CA, as in production
    ca_issued_certificate(certificate, LIVE_EINVOICE["EINVOICE_CERT_PASSWORD"])
    env = {
        **inherited,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "a-real-long-random-secret-key-for-tests-1234567890",
        "ALLOWED_HOSTS": "portal.conexcol.example",
        "SITE_URL": "https://portal.conexcol.example",
        "DJANGO_SETTINGS_MODULE": "clientarea.settings",
        "VAR_DIR": str(tmp_path),
        "EINVOICE_CERT_PATH": str(certificate),
        **LIVE_EINVOICE,
        **extra,
    }
    kept: dict[str, str] = {k: v for k, v in env.items() if v is not None}
    kept.pop("DATABASE_URL", None)
    kept.pop(
        "DJANGO_ALLOW_ASYNC_UNSAFE", None
    )  # set by the browser fixture for Playwright's event loop
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=kept,
        capture_output=True,
        text=True,
    )


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = check_deploy(tmp_path, **LIVE_GATEWAYS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_gateways_that_move_no_money(tmp_path):
    """Left at the demo defaults, both gateways would 'take' payments in their sandboxes."""
    result = check_deploy(tmp_path)
    assert result.returncode == 1
    for check_id in ("payments.W011", "payments.W012", "payments.W013", "payments.W014"):
        assert check_id in result.stderr, result.stderr
    assert "payments.E010" not in result.stderr


@pytest.mark.parametrize("disabled", ["PAYU_ENABLED", "PAYVALIDA_ENABLED"])
def test_a_disabled_gateway_is_not_checked(tmp_path, disabled):
    live = {k: v for k, v in LIVE_GATEWAYS.items() if not k.startswith(disabled.split("_")[0])}
    result = check_deploy(tmp_path, **live, **{disabled: "0"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_refuses_the_simulators_in_production(tmp_path):
    result = check_deploy(tmp_path, **LIVE_GATEWAYS, PAYMENTS_SANDBOX="1")
    assert result.returncode == 1
    assert "payments.E010" in result.stderr


def test_check_deploy_refuses_einvoice_settings_dian_would_refuse(tmp_path):
    result = check_deploy(
        tmp_path,
        **LIVE_GATEWAYS,
        EINVOICE_CERT_PATH=str(tmp_path / "missing.p12"),
        EINVOICE_SOFTWARE_ID="56f2ae4e-9812-4fad-9255-08fcfcd5ccb0",  # DIAN's test values
        EINVOICE_SOFTWARE_PIN="12345",
    )
    assert result.returncode == 1
    for check_id in ("einvoice.E001", "einvoice.E006"):
        assert check_id in result.stderr, result.stderr


def test_check_deploy_refuses_invoices_that_never_reach_dian(tmp_path):
    """DEBUG=0 without EINVOICE_TRANSMITTER: the store-only default would email invoices DIAN
    never received; and DIAN's habilitación service is only a warning."""
    live = {**LIVE_GATEWAYS, "EINVOICE_TRANSMITTER": None, "DIAN_SANDBOX": "0"}
    result = check_deploy(tmp_path, **live)
    assert result.returncode == 1
    assert "einvoice.E008" in result.stderr, result.stderr
    result = check_deploy(tmp_path, **LIVE_GATEWAYS, EINVOICE_ENVIRONMENT="habilitacion")
    assert result.returncode == 1
    assert "einvoice.W009" in result.stderr and "einvoice.E008" not in result.stderr
