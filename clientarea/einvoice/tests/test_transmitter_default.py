"""The default transmitter: the DIAN simulator in development (``make run``), stored only without
a DIAN, and whatever EINVOICE_TRANSMITTER says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DIAN = "clientarea.einvoice.dian.transmitter.DianTransmitter"
STORE = "clientarea.einvoice.transmission.StoreOnlyTransmitter"


def configured_transmitter(tmp_path: Path, **env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "EINVOICE_", "DIAN_", "PAYMENTS_", "DEBUG"))
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        PYTHONPATH=str(ROOT),
        VAR_DIR=str(tmp_path),
        SECRET_KEY="settings-test-key-not-a-secret",
        **env,
    )
    code = "from django.conf import settings; print(settings.EINVOICE_TRANSMITTER)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "1"}, DIAN),  # make run: the simulator is on
        ({"DEBUG": "0", "ALLOWED_HOSTS": "portal.example.co"}, STORE),
        ({"DEBUG": "1", "DIAN_SANDBOX": "0"}, STORE),
        ({"DEBUG": "1", "EINVOICE_TRANSMITTER": STORE}, STORE),
    ],
)
def test_default_transmitter(tmp_path, env, expected):
    assert configured_transmitter(tmp_path, **env) == expected
