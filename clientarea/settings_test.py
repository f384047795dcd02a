"""Settings for the test suite: the real settings, with the worker run inline and fast hashing."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("PAYMENTS_SANDBOX", "1")
os.environ.setdefault("SECRET_KEY", "test-only-signing-key-not-a-secret")

from clientarea.settings import *  # noqa: F403
from clientarea.settings import HUEY

# Tasks run inline (Huey's immediate mode, in-memory storage): no worker process in tests.
HUEY = {**HUEY, "immediate": True}
# Argon2 is the production hasher (settings.PASSWORD_HASHERS); tests hash thousands of codes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A throwaway self-signed certificate for invoice signatures (created on first use).
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

EINVOICE_CERT_PATH = str(Path(tempfile.gettempdir()) / "clientarea-test" / "signing.p12")
# No server runs the simulator here: invoices are stored only, unless a test (live_server) says
# otherwise.
EINVOICE_TRANSMITTER = os.environ.get(
    "EINVOICE_TRANSMITTER", "clientarea.einvoice.transmission.StoreOnlyTransmitter"
)
