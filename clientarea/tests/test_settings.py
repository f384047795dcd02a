"""Settings read the environment and write nothing; secrets from *_FILE; one SITE_URL; cookies.

Each case imports the real settings in a fresh interpreter with a controlled environment (the
test process's own settings are already loaded and cannot be re-read).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable

#: Everything that could point the child at this process's database, queue or keys.
INHERITED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SITE_URL", "PORT", "VAR_DIR", "DEBUG")


def child_env(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in INHERITED and not k.endswith("_FILE")}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    base.pop("PAYMENTS_SANDBOX", None)
    base.pop("DIAN_SANDBOX", None)
    base["PYTHONPATH"] = str(ROOT)
    base["VAR_DIR"] = str(tmp_path / "var")
    return {**base, **env}


def settings_values(tmp_path: Path, names: list[str], **env: str) -> dict:
    """Import clientarea.settings in a child process and return the named values (as JSON)."""
    code = (
        "import json, clientarea.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}, default=str))"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], env=child_env(tmp_path, **env), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def settings_error(tmp_path: Path, **env: str) -> str:
    """The error the settings stop with (the import must fail)."""
    result = subprocess.run(
        [PYTHON, "-c", "import clientarea.settings"],
        env=child_env(tmp_path, **env),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0, "the settings should have refused this environment"
    return result.stderr.strip().splitlines()[-1]


def test_importing_the_settings_writes_nothing(tmp_path: Path) -> None:
    values = settings_values(
        tmp_path, ["SECRET_KEY", "STATIC_ROOT"], DEBUG="0", SECRET_KEY="k" * 50
    )
    assert values["SECRET_KEY"] == "k" * 50
    assert not (tmp_path / "var").exists(), "settings created VAR_DIR (or files in it)"


def test_debug_without_a_key_reads_the_one_init_local_made(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("local-key-from-init\n")
    assert settings_values(tmp_path, ["SECRET_KEY"], DEBUG="1") == {
        "SECRET_KEY": "local-key-from-init"
    }


def test_debug_without_any_key_says_to_run_make_run(tmp_path: Path) -> None:
    error = settings_error(tmp_path, DEBUG="1")
    assert "ImproperlyConfigured" in error
    assert "make run" in error and "clientarea init-local" in error
    assert not (tmp_path / "var").exists()


def test_production_without_secret_key_is_a_clear_startup_error(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("a development key must not be used")
    error = settings_error(tmp_path, DEBUG="0")
    assert "ImproperlyConfigured: SECRET_KEY is not set" in error


SECRETS = [
    "SECRET_KEY",
    "EMAIL_HOST_PASSWORD",
    "PAYU_API_LOGIN",
    "PAYU_API_KEY",
    "PAYU_SECRET_KEY",
    "PAYVALIDA_FIXED_HASH",
    "PAYVALIDA_NOTIFICATION_HASH",
    "EINVOICE_CERT_PASSWORD",
    "EINVOICE_SOFTWARE_PIN",
    "PROVISIONING_WEBHOOK_SECRET",
]


def test_every_secret_can_come_from_a_file(tmp_path: Path) -> None:
    env = {"DEBUG": "0", "EMAIL_HOST": "smtp.example"}
    for name in SECRETS:
        path = tmp_path / f"{name.lower()}.txt"
        path.write_text(f"from-file-{name}\n")  # secrets mounted by Docker often end in a newline
        env[f"{name}_FILE"] = str(path)
    values = settings_values(tmp_path, SECRETS, **env)
    assert values == {name: f"from-file-{name}" for name in SECRETS}


def test_database_and_redis_urls_with_passwords_can_come_from_files(tmp_path: Path) -> None:
    db = tmp_path / "db"
    db.write_text("postgres://app:s3cret@db.example:5432/clientarea")
    redis = tmp_path / "redis"
    redis.write_text("redis://:r3dis@cache.example:6379/0")
    values = settings_values(
        tmp_path,
        ["DATABASES", "HUEY"],
        DEBUG="0",
        SECRET_KEY="k" * 50,
        DATABASE_URL_FILE=str(db),
        REDIS_URL_FILE=str(redis),
    )
    assert values["DATABASES"]["default"]["PASSWORD"] == "s3cret"
    assert values["DATABASES"]["default"]["HOST"] == "db.example"
    assert values["HUEY"]["url"] == "redis://:r3dis@cache.example:6379/0"


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    error = settings_error(tmp_path, DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert "SECRET_KEY_FILE" in error and "cannot be read" in error


def test_a_secret_set_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("one")
    error = settings_error(tmp_path, DEBUG="0", SECRET_KEY="two", SECRET_KEY_FILE=str(path))
    assert "SECRET_KEY or SECRET_KEY_FILE, not both" in error


def test_site_url_does_not_follow_port(tmp_path: Path) -> None:
    values = settings_values(tmp_path, ["SITE_URL", "PORT"], DEBUG="0", SECRET_KEY="k", PORT="9123")
    assert values == {"SITE_URL": "http://127.0.0.1:8000", "PORT": 9123}


@pytest.mark.parametrize(("debug", "secure"), [("0", True), ("1", False)])
def test_language_cookie_is_secure_under_https(tmp_path: Path, debug: str, secure: bool) -> None:
    values = settings_values(
        tmp_path,
        ["LANGUAGE_COOKIE_SECURE", "LANGUAGE_COOKIE_HTTPONLY", "LANGUAGE_COOKIE_SAMESITE"],
        DEBUG=debug,
        SECRET_KEY="k",
        **({"VAR_DIR": str(tmp_path)} if debug == "1" else {}),
    )
    assert values == {
        "LANGUAGE_COOKIE_SECURE": secure,
        "LANGUAGE_COOKIE_HTTPONLY": True,
        "LANGUAGE_COOKIE_SAMESITE": "Lax",
    }


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "clientarea.cli", *args],
        env=child_env(tmp_path, **env),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


PAY_URL = (
    "from clientarea.billing.models import Order; from clientarea.billing.services import "
    "order_pay_url; print(order_pay_url(Order(number='ODS-000042')))"
)


def test_a_command_started_with_another_port_links_to_the_same_site(tmp_path: Path) -> None:
    """Issue 11.17: `make run` (init-local) fixes SITE_URL once; every command reads it."""
    init = run_cli(tmp_path, "init-local", "--port", "8123", DEBUG="1")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0
    links = set()
    for port in ("8123", "9999", ""):
        env = {"DEBUG": "1", "PORT": port} if port else {"DEBUG": "1"}
        result = run_cli(tmp_path, "shell", "-c", PAY_URL, **env)
        assert result.returncode == 0, result.stderr
        links.add(result.stdout.strip().splitlines()[-1])
    assert links == {"http://127.0.0.1:8123/clientarea/billing/ODS-000042/"}


def test_init_local_keeps_what_exists_and_moves_only_when_asked(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "init-local", DEBUG="1").returncode == 0
    key = (tmp_path / "var" / "secret_key").read_text()
    local_env = (tmp_path / "var" / "local.env").read_text()
    assert "SITE_URL=http://127.0.0.1:8000" in local_env
    assert run_cli(tmp_path, "init-local", DEBUG="1", PORT="9999").returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == key
    assert (tmp_path / "var" / "local.env").read_text() == local_env
    assert run_cli(tmp_path, "init-local", "--port", "9001", DEBUG="1").returncode == 0
    assert "SITE_URL=http://127.0.0.1:9001" in (tmp_path / "var" / "local.env").read_text()
    # The environment still wins over var/local.env.
    result = run_cli(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SITE_URL)",
        DEBUG="1",
        SITE_URL="https://portal.example",
    )
    assert result.stdout.strip().splitlines()[-1] == "https://portal.example", result.stderr


@pytest.mark.parametrize("ask", [[], ["help"], ["--help"]], ids=["bare", "help", "--help"])
def test_the_cli_help_lists_the_commands_the_readme_uses(tmp_path: Path, ask: list[str]) -> None:
    """`clientarea --help` printed only Django's list: billing_run, demo_data, serve... and no
    init-local, run or worker, the names the README and `make run` use."""
    assert run_cli(tmp_path, "init-local", DEBUG="1").returncode == 0
    result = run_cli(tmp_path, *ask, DEBUG="1")
    assert result.returncode == 0, result.stderr
    for command in ("init-local", "run ", "worker", "demo-data", "billing-run", "twofactor-reset"):
        assert f"clientarea {command}" in result.stdout
    assert "[billing]" in result.stdout  # Django's own list still follows
    # A command's help by the README's name.
    options = run_cli(tmp_path, "help", "billing-run", DEBUG="1")
    assert options.returncode == 0 and "--dry-run" in options.stdout, options.stderr


def test_the_license_is_an_spdx_string_so_make_run_prints_no_build_warning() -> None:
    """`make run` on a fresh clone printed setuptools' boxed "`project.license` as a TOML table
    is deprecated" warning twice: the license is now a PEP 639 string, which needs setuptools 77."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_the_worker_runs_threads_unless_worker_type_asks_for_processes(tmp_path: Path) -> None:
    consumer = settings_values(tmp_path, ["HUEY"], DEBUG="1", SECRET_KEY="k")["HUEY"]["consumer"]
    assert (consumer["worker_type"], consumer["workers"]) == ("thread", 2)
    redis = settings_values(
        tmp_path, ["HUEY"], DEBUG="1", SECRET_KEY="k", REDIS_URL="redis://127.0.0.1:6379/0"
    )["HUEY"]["consumer"]
    assert (redis["worker_type"], redis["workers"]) == ("thread", 4)
    for env in ({}, {"REDIS_URL": "redis://127.0.0.1:6379/0"}):
        chosen = settings_values(
            tmp_path, ["HUEY"], DEBUG="1", SECRET_KEY="k", WORKER_TYPE="process", **env
        )["HUEY"]["consumer"]
        assert chosen["worker_type"] == "process"


def test_an_unknown_worker_type_is_refused(tmp_path: Path) -> None:
    error = settings_error(tmp_path, DEBUG="1", SECRET_KEY="k", WORKER_TYPE="greenlet")
    assert "WORKER_TYPE must be thread or process, not 'greenlet'" in error


def test_dians_interactive_timeout_is_read_from_the_environment(tmp_path: Path) -> None:
    names = ["DIAN_WS_INTERACTIVE_TIMEOUT", "DIAN_WS_TIMEOUT"]
    key = {"SECRET_KEY": "k" * 50}
    assert settings_values(tmp_path, names, **key) == {
        "DIAN_WS_INTERACTIVE_TIMEOUT": 20.0,
        "DIAN_WS_TIMEOUT": 65.0,
    }
    values = settings_values(tmp_path, names, DIAN_WS_INTERACTIVE_TIMEOUT="7.5", **key)
    assert values == {"DIAN_WS_INTERACTIVE_TIMEOUT": 7.5, "DIAN_WS_TIMEOUT": 65.0}
