"""Django settings for ClientArea, read from the environment.

Every variable is listed in README.md ("Configuration"). Nothing here reads
``../shared``; data the product needs is copied into the package.
"""

from __future__ import annotations

import os
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
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
    return int(value) if value else default


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """A secret from ``NAME``, or from the file named by ``NAME_FILE`` (Docker/Kubernetes secrets).

    Setting both is refused (which one would win is a guess); the file's trailing newline is
    dropped. A ``NAME_FILE`` that cannot be read is a clear startup error.
    """
    value = os.environ.get(name, "")
    file_name = os.environ.get(f"{name}_FILE", "")
    if value and file_name:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE names {file_name!r}, which cannot be read: {exc.strerror}."
            ) from exc
    return value or default


def local_secret_key(debug: bool) -> str:
    """``SECRET_KEY`` (or ``SECRET_KEY_FILE``); in development the key `clientarea init-local` kept.

    Settings only read: the local key is created by `make run` / `clientarea init-local`.
    """
    key = env_secret("SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=0 set SECRET_KEY (or SECRET_KEY_FILE) to a long "
            "random value, e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    raise ImproperlyConfigured(
        f"No SECRET_KEY and no {path}. Run `make run` (or `clientarea init-local`) once to create "
        "the local development key, or set SECRET_KEY."
    )


DEBUG = envbool("DEBUG", True)
SECRET_KEY = local_secret_key(DEBUG)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
PORT = envint("PORT", 8000)
# The one base URL of links in emails and of gateway callbacks. It does not follow PORT: a command
# started from another shell (another PORT, or none) must link to the same site. `make run` keeps
# it in var/local.env (`clientarea init-local`), which every `clientarea` command reads.
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
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
# The language cookie follows the session cookie: Secure under HTTPS, never read by scripts.
LANGUAGE_COOKIE_SECURE = envbool("LANGUAGE_COOKIE_SECURE", SESSION_COOKIE_SECURE)
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

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
    "csp",
    "django_otp",  # two-factor login: TOTP apps and one-time recovery codes
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "clientarea.lib",
    "clientarea.accounts",
    "clientarea.notifications",
    "clientarea.catalog",
    "clientarea.subscriptions",
    "clientarea.billing",
    "clientarea.payments",
    "clientarea.einvoice",
    "clientarea.withholdings",
    "clientarea.helpcenter",
    "clientarea.portal",
    "clientarea.reports",  # back-office dashboard, reports and exports
    "clientarea.backoffice",  # customer 360, global search, custom orders, login as customer
    "clientarea.ops",  # operations: health, metrics, request ids, backups (see "Operations" below)
]

MIDDLEWARE = [
    "clientarea.ops.middleware.RequestIdMiddleware",
    "clientarea.ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "clientarea.lib.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clientarea.lib.sitecache.SiteDataMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clientarea.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clientarea.accounts.impersonation.ImpersonationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clientarea.urls"
WSGI_APPLICATION = "clientarea.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
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
                "clientarea.accounts.context_processors.impersonation",
                "clientarea.accounts.context_processors.access",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'clientarea.sqlite3'}"
# Connections are kept between requests and worker jobs (opening one, and for SQLite closing
# it, costs more than a whole inbox write); a kept connection is checked before reuse.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
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
REDIS_URL = env_secret("REDIS_URL")
HUEY_IMMEDIATE = envbool("HUEY_IMMEDIATE", False)
# How one worker (`clientarea worker`) runs its WORKER_THREADS workers: "thread" (the default), one
# process; "process", Huey forks that many worker processes, whose Python is not held to one core
# by the GIL (but a document cost 2-4 ms more CPU in two processes than in two threads). Measured
# through the DIAN simulator on the shared 2-core machine (bench/einvoice.py --e2e, README
# "Benchmarks"), processes did not win, so threads stay the default. A forked process never
# inherits an open database connection and exits if the worker is killed (clientarea.ops.worker).
WORKER_TYPE = envstr("WORKER_TYPE", "thread")
if WORKER_TYPE not in ("thread", "process"):
    raise ImproperlyConfigured(f"WORKER_TYPE must be thread or process, not {WORKER_TYPE!r}.")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": envstr("HUEY_NAME", "clientarea"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": envint("WORKER_THREADS", 4), "worker_type": WORKER_TYPE},
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
            "worker_type": WORKER_TYPE,
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
# Minutes a staff member may view the client area as a customer ("login as customer").
IMPERSONATION_MINUTES = envint("IMPERSONATION_MINUTES", 30)
PASSWORD_RESET_TIMEOUT = envint("LOGIN_LINK_TIMEOUT_SECONDS", 3600)

# --- Client address, login lockout (django-axes) and rate limits (accounts security) ---
# Proxies of our own in front (each appends to X-Forwarded-For); clientarea.lib.http.client_ip
# is the one function that reads it, for the audit log, axes and the rate limits alike.
PROXY_COUNT = envint("PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "clientarea.lib.http.client_ip"
# Axes counts failures per account (the login typed, from any address): LOGIN_FAILURE_LIMIT
# failures lock that account, and only it, for LOGIN_LOCKOUT_MINUTES. An address is not locked
# by axes (one office's NAT is many customers and staff): the login page counts failed logins per
# address against a much higher LOGIN_IP_FAILURE_LIMIT in the same window (accounts.views). A
# success clears only the failures of that account from that address
# (accounts.services.clear_login_failures), so axes' own reset-on-success stays off.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 50)
# axes.W006 warns when the address is not part of axes' key, because a key of user agent or
# cookies can be dodged by changing them. Ours is the login typed, which an attacker cannot
# change without guessing at another account; the address has its own limit (above).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "clientarea.accounts.backends.axes_username"
AXES_LOCKOUT_CALLABLE = "clientarea.accounts.views.lockout"
AXES_ENABLED = envbool("AXES_ENABLED", True)

# Two-factor login (django-otp): optional for customers; staff must turn it on before they can
# use the back office when STAFF_REQUIRE_2FA is on (the default outside DEBUG).
STAFF_REQUIRE_2FA = envbool("STAFF_REQUIRE_2FA", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "ClientArea")
TWO_FACTOR_RECOVERY_CODES = 10
# Throttling of the public forms (forgot-code, registration, help-center votes and search:
# clientarea.lib.ratelimit, django-ratelimit) counts in the default cache: Redis when REDIS_URL
# is set, otherwise a database table every process shares (created by a migration).
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("HUEY_NAME", "clientarea"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clientarea_cache",
        }
    }
# Rendered parts of customer pages, keyed on the account's state (billing.selectors
# .account_version), and the site data every page shows (the provider, the help links), keyed on
# a version kept in the default cache (lib.sitecache), so an entry is never stale, only unused:
# memory of each process, no I/O.
CACHES["pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "clientarea-pages",
    "TIMEOUT": 600,
    "OPTIONS": {"MAX_ENTRIES": envint("PAGE_CACHE_ENTRIES", 500)},
}
# Sessions are read on every logged-in request: Django's cached_db engine reads them from a cache
# and writes them through to the database (logging out deletes both). The cache is Redis with
# REDIS_URL, else a database cache table of its own (one indexed read, and never culled together
# with the rate limits' counters); an entry the cache lost is read from the database again.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
if REDIS_URL:
    CACHES["sessions"] = {**CACHES["default"]}
else:
    CACHES["sessions"] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "clientarea_sessions",
        "OPTIONS": {"MAX_ENTRIES": envint("SESSION_CACHE_ENTRIES", 20_000)},
    }
RATELIMIT_ENABLE = envbool("RATELIMIT_ENABLE", True)
RATELIMIT_CACHE_PREFIX = "rl:"

# --- Internationalisation ----------------------------------------------------------
LANGUAGE_CODE = "es-co"
LANGUAGES = [("es-co", _("Español")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]  # also lowercases Django's es-CO month names
FORMAT_MODULE_PATH = ["clientarea.formats"]  # SHORT_DATE(TIME)_FORMAT: "4 dic 2026"
TIME_ZONE = "America/Bogota"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

# --- Static and media --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by collectstatic (`make run`)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT") or VAR_DIR / "media")
# XLSX exports made by the worker (back office → Reports); private, served only to staff who may export.
REPORTS_EXPORT_DIR = Path(envstr("REPORTS_EXPORT_DIR") or VAR_DIR / "exports")
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
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = envstr(
        "EMAIL_BACKEND", "clientarea.notifications.backends.ConsoleSummaryBackend"
    )
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Conexcol <facturacion@conexcol.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_MAX_ATTEMPTS = envint("EMAIL_MAX_ATTEMPTS", 5)
# Work queued after commit (emails, invoice rendering/sending, provisioning events) is claimed
# with a lease: a claim not finished within this many seconds (the worker died) is retried by the
# worker's sweep, which runs every minute. Longer than any SMTP, rendering or webhook timeout.
WORKER_LEASE_SECONDS = envint("WORKER_LEASE_SECONDS", 600)

# --- Billing automation (issue: services and orders) --------------------------------
BILLING_RUN_HOUR = envint("BILLING_RUN_HOUR", 6)
BILLING_RENEWAL_DAYS_BEFORE = envint("BILLING_RENEWAL_DAYS_BEFORE", 15)
BILLING_REMINDER_DAYS_BEFORE = envint("BILLING_REMINDER_DAYS_BEFORE", 5)
BILLING_OVERDUE_NOTICE_DAYS = [int(x) for x in envlist("BILLING_OVERDUE_NOTICE_DAYS", "1,3,5")]
BILLING_SUSPEND_AFTER_DAYS = envint("BILLING_SUSPEND_AFTER_DAYS", 5)
BILLING_TERMINATE_AFTER_DAYS = envint("BILLING_TERMINATE_AFTER_DAYS", 30)
BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS = envint("BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS", 7)
BILLING_ORDER_DUE_DAYS = envint("BILLING_ORDER_DUE_DAYS", 7)
# Credit (overpayments, duplicate payments, added funds) pays pending and new orders at once;
# off: only when the customer chooses "Apply my credit".
BILLING_AUTO_APPLY_CREDIT = envbool("BILLING_AUTO_APPLY_CREDIT", True)
# "Add funds" in the client area: whole pesos between these amounts.
BILLING_ADD_FUNDS_MIN = Decimal(envint("BILLING_ADD_FUNDS_MIN", 10_000))
BILLING_ADD_FUNDS_MAX = Decimal(envint("BILLING_ADD_FUNDS_MAX", 5_000_000))
# Plan changes: a downgrade takes effect "now" (the prorated difference becomes credit) or at
# the "renewal" (the next due date; the new price simply applies from then). Upgrades always
# wait for their order to be paid.
PLAN_CHANGE_DOWNGRADE_AT = envstr("PLAN_CHANGE_DOWNGRADE_AT", "now")
if PLAN_CHANGE_DOWNGRADE_AT not in ("now", "renewal"):
    raise ImproperlyConfigured('PLAN_CHANGE_DOWNGRADE_AT must be "now" or "renewal".')
PROVISIONERS = envlist("PROVISIONERS", "clientarea.subscriptions.provisioning.LoggingProvisioner")
PROVISIONING_WEBHOOK_URL = envstr("PROVISIONING_WEBHOOK_URL")
PROVISIONING_WEBHOOK_SECRET = env_secret("PROVISIONING_WEBHOOK_SECRET")

# --- Payments ------------------------------------------------------------------------
# Local gateway simulators: on by default in development and tests, off when DEBUG=0
# unless explicitly enabled.
PAYMENTS_SANDBOX = envbool("PAYMENTS_SANDBOX", DEBUG)
# The simulators are an optional app: installed (models, admin, periodic tasks, /sandbox/ URLs)
# only when PAYMENTS_SANDBOX is on. The product knows where they answer only through these
# paths, relative to SITE_URL (see the gateway adapters' ``from_settings``).
if PAYMENTS_SANDBOX:
    INSTALLED_APPS.append("clientarea.payments.sandbox")
PAYMENTS_SANDBOX_PATHS = {
    "payu_checkout": "/sandbox/payu/ppp-web-gateway-payu/",
    "payu_queries": "/sandbox/payu/reports-api/4.0/service.cgi",
    "payu_payments_api": "/sandbox/payu/payments-api/4.0/service.cgi",
    "payvalida_api": "/sandbox/payvalida",
    "payvalida_checkout": "/sandbox/payvalida/checkout/",
}
PAYMENTS_IP_ALLOWLIST = envbool("PAYMENTS_IP_ALLOWLIST", False)
PAYU_ENABLED = envbool("PAYU_ENABLED", True)
PAYU_MERCHANT_ID = envstr("PAYU_MERCHANT_ID", "508029")
PAYU_ACCOUNT_ID = envstr("PAYU_ACCOUNT_ID", "512321")
PAYU_API_LOGIN = env_secret("PAYU_API_LOGIN", "pRRXKOl8ikMmt9u")
PAYU_API_KEY = env_secret("PAYU_API_KEY", "4Vj8eK4rloUd272L48hsrarnUA")
PAYU_SECRET_KEY = env_secret("PAYU_SECRET_KEY")  # HMAC-SHA256 only; defaults to the API key
PAYU_SIGNATURE_ALGORITHM = envstr("PAYU_SIGNATURE_ALGORITHM", "SHA256")
PAYU_TEST = envbool("PAYU_TEST", True)
PAYU_CHECKOUT_URL = envstr("PAYU_CHECKOUT_URL")  # empty: the local simulator when PAYMENTS_SANDBOX
PAYU_QUERIES_URL = envstr("PAYU_QUERIES_URL")
PAYU_PAYMENTS_URL = envstr(
    "PAYU_PAYMENTS_URL"
)  # refunds (Payments API); empty: simulator, sandbox or production
PAYU_ALLOWED_IPS = envlist(
    "PAYU_ALLOWED_IPS", "34.233.144.154,184.73.94.138,52.73.124.136,54.158.171.129"
)
PAYVALIDA_ENABLED = envbool("PAYVALIDA_ENABLED", True)
PAYVALIDA_MERCHANT = envstr("PAYVALIDA_MERCHANT", "conexcoldemo")
PAYVALIDA_FIXED_HASH = env_secret("PAYVALIDA_FIXED_HASH", "demo-fixed-hash-not-a-secret")
PAYVALIDA_NOTIFICATION_HASH = env_secret(
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

# --- Content-Security-Policy (django-csp) -------------------------------------------------
# Scripts and styles only from our own files: no inline <script>, <style> or style="...".
# Forms may post to us and to the gateways' hosted checkouts (Pay now sends the customer there
# with a form, and Chrome checks form-action on the redirects that follow a form, too).


def origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


FORM_ACTION_ORIGINS = [
    SELF,
    "https://*.payulatam.com",
    "https://*.payvalida.com",
    *(
        o
        for o in map(origin, [SITE_URL, PAYU_CHECKOUT_URL, PAYVALIDA_CHECKOUT_URL])
        if o is not None
    ),
    *envlist("CSP_FORM_ACTION"),
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": list(dict.fromkeys(FORM_ACTION_ORIGINS)),
        **({"report-uri": envstr("CSP_REPORT_URI")} if envstr("CSP_REPORT_URI") else {}),
    }
}

# --- Electronic invoice (DIAN) ---------------------------------------------------------
EINVOICE_CERT_PATH = envstr("EINVOICE_CERT_PATH") or str(VAR_DIR / "certs" / "demo-signing.p12")
EINVOICE_CERT_PASSWORD = env_secret("EINVOICE_CERT_PASSWORD", "demo")
EINVOICE_SOFTWARE_ID = envstr("EINVOICE_SOFTWARE_ID", "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0")
EINVOICE_SOFTWARE_PIN = env_secret("EINVOICE_SOFTWARE_PIN", "12345")
# Prefixes of our own credit / debit note numbering (DIAN assigns no range to notes), used when
# the first note of each kind is issued; staff can change them in the admin (Note numbering).
EINVOICE_CREDIT_NOTE_PREFIX = envstr("EINVOICE_CREDIT_NOTE_PREFIX", "NC")
EINVOICE_DEBIT_NOTE_PREFIX = envstr("EINVOICE_DEBIT_NOTE_PREFIX", "ND")
EINVOICE_SOFTWARE_PROVIDER_NIT = envstr(
    "EINVOICE_SOFTWARE_PROVIDER_NIT", ""
)  # default: the provider's own NIT
# The DIAN simulator (app ``clientarea.einvoice.sandbox``, label ``dian_sandbox``, URLs at
# /sandbox/dian/): same switch as the payments one. On only when asked for and the package exists.
DIAN_SANDBOX = (
    envbool("DIAN_SANDBOX", PAYMENTS_SANDBOX)
    and find_spec("clientarea.einvoice.sandbox") is not None
)
# With the simulator on, invoices go to it over HTTP (at SITE_URL); otherwise stored only.
EINVOICE_TRANSMITTER = envstr(
    "EINVOICE_TRANSMITTER",
    "clientarea.einvoice.dian.transmitter.DianTransmitter"
    if DIAN_SANDBOX
    else "clientarea.einvoice.transmission.StoreOnlyTransmitter",
)
if DIAN_SANDBOX:
    INSTALLED_APPS.append("clientarea.einvoice.sandbox")

# --- Operations (clientarea.ops): log format, metrics, error reporting, health checks -------
# LOG_FORMAT=json: one JSON object per line (python-json-logger), each with the request id.
LOG_FORMAT = envstr("LOG_FORMAT", "plain")
LOG_FORMATTERS = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        "timestamp": "time",
    },
}
if LOG_FORMAT not in LOG_FORMATTERS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
# /metrics answers 404 until METRICS_TOKEN is set; then it wants "Authorization: Bearer <token>".
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# Error reporting (optional extra `clientarea[sentry]`), only when SENTRY_DSN is set.
SENTRY_DSN = env_secret("SENTRY_DSN")
SENTRY_ENVIRONMENT = envstr("SENTRY_ENVIRONMENT")
SENTRY_TRACES_SAMPLE_RATE = float(envstr("SENTRY_TRACES_SAMPLE_RATE") or 0)
# Load balancers and local probes check health over plain HTTP, also when DEBUG=0.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/|$)"]

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "clientarea.ops.logs.RequestIdFilter"}},
    "formatters": {"console": LOG_FORMATTERS[LOG_FORMAT]},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "console",
            "filters": ["request_id"],
        }
    },
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

# --- DIAN validation web service (client: clientarea.einvoice.dian) ------------------------
# "habilitacion" (DIAN's test environment) or "production": picks DIAN's endpoint.
EINVOICE_ENVIRONMENT = envstr("EINVOICE_ENVIRONMENT", "habilitacion")
# Empty: the local DIAN simulator (SITE_URL + /sandbox/dian/WcfDianCustomerServices.svc) when
# DIAN_SANDBOX is on, else DIAN's URL for EINVOICE_ENVIRONMENT (clientarea.einvoice.dian.transmitter).
DIAN_WS_URL = envstr("DIAN_WS_URL")
# Where the local DIAN simulator answers, relative to SITE_URL (only used when DIAN_SANDBOX is on).
DIAN_SANDBOX_PATH = "/sandbox/dian/WcfDianCustomerServices.svc"
# Seconds to wait for each read of DIAN's answer; DIAN itself gives up after 59 s.
DIAN_WS_TIMEOUT = float(envstr("DIAN_WS_TIMEOUT", "65"))
# Seconds to wait for DIAN's answer when a person waits for it in the web request (back office →
# numbering resolutions → "Import from DIAN"; "Email the document again" on a document never
# sent): well under the web server's 60 s, so staff read "DIAN did not answer" instead of a
# dropped page. The worker and the commands use DIAN_WS_TIMEOUT.
DIAN_WS_INTERACTIVE_TIMEOUT = float(envstr("DIAN_WS_INTERACTIVE_TIMEOUT", "20"))
# Seconds to wait for the connection to DIAN to open (DIAN or the network down: retry later).
DIAN_WS_CONNECT_TIMEOUT = float(envstr("DIAN_WS_CONNECT_TIMEOUT", "10"))
