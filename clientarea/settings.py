"""Django settings for ClientArea, read from the environment.

Every variable is listed in README.md ("Configuration"). Nothing here reads
``../shared``; data the product needs is copied into the package.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """A key generated once per checkout and kept in var/ (local runs only)."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
PORT = envint("PORT", 8000)
SITE_URL = envstr("SITE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", SITE_URL)

# HTTPS hardening: on by default when DEBUG is off (see `manage.py check --deploy`).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", False) else None
)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    "clientarea.accounts.axes_app.AxesConfig",  # django-axes, with a translatable name
    "clientarea.lib",
    "clientarea.accounts",
    "clientarea.notifications",
    "clientarea.catalog",
    "clientarea.subscriptions",
    "clientarea.billing",
    "clientarea.payments",
    "clientarea.payments.sandbox",
    "clientarea.einvoice",
    "clientarea.helpcenter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "clientarea.lib.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clientarea.urls"
WSGI_APPLICATION = "clientarea.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clientarea.accounts.context_processors.provider",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'clientarea.sqlite3'}"
# Connections are kept between requests and worker jobs (opening one, and for SQLite closing
# it, costs more than a whole inbox write); a kept connection is checked before reuse.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run while one writer commits; IMMEDIATE avoids
        # "database is locked" upgrades from read to write inside atomic().
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue (Huey) ---------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
HUEY_IMMEDIATE = envbool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": envstr("HUEY_NAME", "clientarea"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": envint("WORKER_THREADS", 4), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "clientarea",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        # An idle consumer polls SQLite at most once a second (Huey's default backs off to 10 s):
        # a gateway confirmation is applied, and the customer's result page turns, within a second or so.
        "consumer": {
            "workers": envint("WORKER_THREADS", 2),
            "worker_type": "thread",
            "max_delay": 1.0,
        },
    }

# --- Auth ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clientarea.accounts.backends.EmailAccessCodeBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"
ACCESS_CODE_LENGTH = envint("ACCESS_CODE_LENGTH", 14)
PASSWORD_RESET_TIMEOUT = envint("LOGIN_LINK_TIMEOUT_SECONDS", 3600)

# Brute force protection (django-axes): per account and per IP.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_CALLABLE = "clientarea.accounts.views.lockout"
AXES_IPWARE_PROXY_COUNT = envint("PROXY_COUNT", 0) or None
AXES_ENABLED = envbool("AXES_ENABLED", True)

# --- Internationalisation ----------------------------------------------------------
LANGUAGE_CODE = "es-co"
LANGUAGES = [("es-co", _("Español")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "America/Bogota"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

# --- Static and media --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Email -------------------------------------------------------------------------
# Every email is written to the email log (notifications.OutgoingEmail) and then
# delivered by the worker through this backend: console by default, SMTP when
# EMAIL_HOST is set.
EMAIL_HOST = envstr("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = envint("EMAIL_PORT", 587)
    EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = envstr(
        "EMAIL_BACKEND", "clientarea.notifications.backends.ConsoleSummaryBackend"
    )
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Conexcol <facturacion@conexcol.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_MAX_ATTEMPTS = envint("EMAIL_MAX_ATTEMPTS", 5)

# --- Billing automation (issue: services and orders) --------------------------------
BILLING_RUN_HOUR = envint("BILLING_RUN_HOUR", 6)
BILLING_RENEWAL_DAYS_BEFORE = envint("BILLING_RENEWAL_DAYS_BEFORE", 15)
BILLING_REMINDER_DAYS_BEFORE = envint("BILLING_REMINDER_DAYS_BEFORE", 5)
BILLING_OVERDUE_NOTICE_DAYS = [int(x) for x in envlist("BILLING_OVERDUE_NOTICE_DAYS", "1,3,5")]
BILLING_SUSPEND_AFTER_DAYS = envint("BILLING_SUSPEND_AFTER_DAYS", 5)
BILLING_TERMINATE_AFTER_DAYS = envint("BILLING_TERMINATE_AFTER_DAYS", 30)
BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS = envint("BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS", 7)
BILLING_ORDER_DUE_DAYS = envint("BILLING_ORDER_DUE_DAYS", 7)
PROVISIONERS = envlist("PROVISIONERS", "clientarea.subscriptions.provisioning.LoggingProvisioner")
PROVISIONING_WEBHOOK_URL = envstr("PROVISIONING_WEBHOOK_URL")
PROVISIONING_WEBHOOK_SECRET = envstr("PROVISIONING_WEBHOOK_SECRET")

# --- Payments ------------------------------------------------------------------------
# Local gateway simulators: on by default in development and tests, off when DEBUG=0
# unless explicitly enabled.
PAYMENTS_SANDBOX = envbool("PAYMENTS_SANDBOX", DEBUG)
PAYMENTS_IP_ALLOWLIST = envbool("PAYMENTS_IP_ALLOWLIST", False)
PAYU_ENABLED = envbool("PAYU_ENABLED", True)
PAYU_MERCHANT_ID = envstr("PAYU_MERCHANT_ID", "508029")
PAYU_ACCOUNT_ID = envstr("PAYU_ACCOUNT_ID", "512321")
PAYU_API_LOGIN = envstr("PAYU_API_LOGIN", "pRRXKOl8ikMmt9u")
PAYU_API_KEY = envstr("PAYU_API_KEY", "4Vj8eK4rloUd272L48hsrarnUA")
PAYU_SECRET_KEY = envstr("PAYU_SECRET_KEY")  # HMAC-SHA256 only; defaults to the API key
PAYU_SIGNATURE_ALGORITHM = envstr("PAYU_SIGNATURE_ALGORITHM", "SHA256")
PAYU_TEST = envbool("PAYU_TEST", True)
PAYU_CHECKOUT_URL = envstr("PAYU_CHECKOUT_URL")  # empty: the local simulator when PAYMENTS_SANDBOX
PAYU_QUERIES_URL = envstr("PAYU_QUERIES_URL")
PAYU_ALLOWED_IPS = envlist(
    "PAYU_ALLOWED_IPS", "34.233.144.154,184.73.94.138,52.73.124.136,54.158.171.129"
)
PAYVALIDA_ENABLED = envbool("PAYVALIDA_ENABLED", True)
PAYVALIDA_MERCHANT = envstr("PAYVALIDA_MERCHANT", "conexcoldemo")
PAYVALIDA_FIXED_HASH = envstr("PAYVALIDA_FIXED_HASH", "demo-fixed-hash-not-a-secret")
PAYVALIDA_NOTIFICATION_HASH = envstr(
    "PAYVALIDA_NOTIFICATION_HASH", "demo-notification-hash-not-a-secret"
)
PAYVALIDA_TEST = envbool("PAYVALIDA_TEST", True)  # api-test.payvalida.com vs api.payvalida.com
PAYVALIDA_API_URL = envstr("PAYVALIDA_API_URL")  # empty: the local simulator when PAYMENTS_SANDBOX
PAYVALIDA_CHECKOUT_URL = envstr("PAYVALIDA_CHECKOUT_URL")
PAYVALIDA_ALLOWED_IPS = envlist("PAYVALIDA_ALLOWED_IPS", "")
# ``method`` codes sent when registering an order (see gateways/payvalida.py): only the documented cash code by default.
PAYVALIDA_METHOD_CODES = envstr("PAYVALIDA_METHOD_CODES", "cash=efecty")
PAYMENT_GATEWAYS = {
    "payu": "clientarea.payments.gateways.payu.PayUGateway",
    "payvalida": "clientarea.payments.gateways.payvalida.PayvalidaGateway",
}
PAYMENTS_RECONCILE_AFTER_MINUTES = envint("PAYMENTS_RECONCILE_AFTER_MINUTES", 7)
PAYMENTS_NOTIFICATION_MAX_BYTES = envint("PAYMENTS_NOTIFICATION_MAX_BYTES", 64 * 1024)

# --- Electronic invoice (DIAN) ---------------------------------------------------------
EINVOICE_CERT_PATH = envstr("EINVOICE_CERT_PATH") or str(VAR_DIR / "certs" / "demo-signing.p12")
EINVOICE_CERT_PASSWORD = envstr("EINVOICE_CERT_PASSWORD", "demo")
EINVOICE_SOFTWARE_ID = envstr("EINVOICE_SOFTWARE_ID", "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0")
EINVOICE_SOFTWARE_PIN = envstr("EINVOICE_SOFTWARE_PIN", "12345")
EINVOICE_SOFTWARE_PROVIDER_NIT = envstr(
    "EINVOICE_SOFTWARE_PROVIDER_NIT", ""
)  # default: the provider's own NIT
EINVOICE_TRANSMITTER = envstr(
    "EINVOICE_TRANSMITTER", "clientarea.einvoice.transmission.StoreOnlyTransmitter"
)

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Our handler, not propagated: the worker (run_huey) then adds none of its own, so each line prints once.
        "huey": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "axes": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},  # PDF font subsetting is chatty at INFO
    },
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
