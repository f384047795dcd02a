"""Issue 12.5: the gateway simulators (and the coming DIAN simulator) are optional apps.

With PAYMENTS_SANDBOX off nothing of theirs is installed, routed, scheduled or in the back
office, and the product's migrations apply without them. The product knows the simulators only
through settings (their URL paths) and the URL conf (mounted by name).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from clientarea.tests.test_settings import ROOT, child_env

PACKAGE = ROOT / "clientarea"
PYTHON = sys.executable

INSPECT = """
import datetime, json, django
django.setup()
from django.utils.module_loading import autodiscover_modules
autodiscover_modules("tasks")  # what the worker (run_huey) does at start
from django.apps import apps
from django.contrib import admin
from django.urls import Resolver404, resolve, get_resolver
from huey.contrib.djhuey import HUEY
try:
    resolve("/sandbox/")
    sandbox_routed = True
except Resolver404:
    sandbox_routed = False
print(json.dumps({
    "labels": sorted(c.label for c in apps.get_app_configs()),
    "admin": sorted(m._meta.app_label for m in admin.site._registry),
    # Every periodic task due at midnight (each schedule here fires then), by module.
    "tasks": sorted(type(t).__module__ for t in HUEY.read_periodic(datetime.datetime(2026, 1, 1))),
    "sandbox_routed": sandbox_routed,
    "mounts": [str(p.pattern) for p in get_resolver().url_patterns],
}))
"""


def inspect(tmp_path: Path, **env: str) -> dict:
    result = subprocess.run(
        [PYTHON, "-c", INSPECT],
        env=child_env(tmp_path, DJANGO_SETTINGS_MODULE="clientarea.settings", **env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=child_env(tmp_path, **env),
        capture_output=True,
        text=True,
    )


def test_product_migrates_and_checks_without_the_simulators(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    env = {
        "PAYMENTS_SANDBOX": "0",
        "DEBUG": "1",
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "HUEY_IMMEDIATE": "1",
    }
    migrate = manage(tmp_path, "migrate", "--noinput", **env)
    assert migrate.returncode == 0, migrate.stderr
    assert "sandbox" not in migrate.stdout
    check = manage(tmp_path, "check", **env)
    assert check.returncode == 0, check.stderr
    pending = manage(tmp_path, "makemigrations", "--check", "--dry-run", **env)
    assert pending.returncode == 0, pending.stdout + pending.stderr


def test_nothing_of_the_simulators_is_registered_when_off(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()  # the SQLite task queue lives there
    off = inspect(tmp_path, PAYMENTS_SANDBOX="0", DEBUG="0", SECRET_KEY="k")
    assert "sandbox" not in off["labels"] and "dian_sandbox" not in off["labels"]
    assert "sandbox" not in off["admin"]
    assert "clientarea.payments.tasks" in off["tasks"]
    assert not [name for name in off["tasks"] if "sandbox" in name]
    assert not off["sandbox_routed"]
    assert not [mount for mount in off["mounts"] if mount.startswith("sandbox")]


def test_the_simulators_come_with_their_switch(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    on = inspect(tmp_path, PAYMENTS_SANDBOX="1", DEBUG="1", SECRET_KEY="k")
    assert "sandbox" in on["labels"]
    assert "sandbox" in on["admin"]
    assert "clientarea.payments.sandbox.tasks" in on["tasks"]
    assert on["sandbox_routed"]


FAKE_DIAN_APP = {
    "__init__.py": "",
    "apps.py": (
        "from django.apps import AppConfig\n\n\n"
        "class DianSandboxConfig(AppConfig):\n"
        '    name = "clientarea.einvoice.sandbox"\n'
        '    label = "dian_sandbox"\n'
    ),
    "urls.py": (
        "from django.http import HttpResponse\nfrom django.urls import path\n\n"
        'urlpatterns = [path("ping/", lambda request: HttpResponse("pong"))]\n'
    ),
}


def test_dian_simulator_is_installed_and_mounted_when_present_and_on(tmp_path: Path) -> None:
    """Settings work whether or not clientarea.einvoice.sandbox exists yet."""
    (tmp_path / "var").mkdir()
    absent = inspect(tmp_path, DIAN_SANDBOX="1", PAYMENTS_SANDBOX="0", DEBUG="1", SECRET_KEY="k")
    if "dian_sandbox" not in absent["labels"]:  # the package is not in the tree yet
        assert "sandbox/dian/" not in absent["mounts"]
        # Stand a minimal DIAN simulator package beside clientarea/einvoice for this child only.
        fake = tmp_path / "extra" / "sandbox"
        fake.mkdir(parents=True)
        for name, text in FAKE_DIAN_APP.items():
            (fake / name).write_text(text)
        boot = tmp_path / "boot"
        boot.mkdir()
        (boot / "sitecustomize.py").write_text(
            f"import clientarea.einvoice\nclientarea.einvoice.__path__.append({str(fake.parent)!r})\n"
        )
        extra = {"PYTHONPATH": f"{boot}:{ROOT}"}
    else:
        extra = {}
    on = inspect(tmp_path, DIAN_SANDBOX="1", DEBUG="1", SECRET_KEY="k", **extra)
    assert "dian_sandbox" in on["labels"]
    assert "sandbox/dian/" in on["mounts"]
    off = inspect(tmp_path, DIAN_SANDBOX="0", DEBUG="1", SECRET_KEY="k", **extra)
    assert "dian_sandbox" not in off["labels"]
    assert "sandbox/dian/" not in off["mounts"]


def product_files() -> list[Path]:
    """Product code: the package without the simulators, their tests, settings and URL conf."""
    skip = {PACKAGE / "settings.py", PACKAGE / "settings_test.py", PACKAGE / "urls.py"}
    files = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if (
            path in skip
            or "tests" in parts
            or parts[:2] in {("payments", "sandbox"), ("einvoice", "sandbox")}
        ):
            continue
        files.append(path)
    return files


def test_no_product_code_imports_or_addresses_the_simulators() -> None:
    imports = re.compile(r"^\s*(from|import)\s+clientarea\.(payments|einvoice)\.sandbox\b", re.M)
    paths = re.compile(r"[\"'][^\"']*/sandbox/(payu|payvalida|dian)")
    offenders = [
        str(path.relative_to(ROOT))
        for path in product_files()
        if imports.search(text := path.read_text(encoding="utf-8")) or paths.search(text)
    ]
    assert offenders == []
